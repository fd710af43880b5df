"""Installs a staged wheelhouse offline into a fresh venv and reports, as JSON, what happened.

Run by the end-to-end tests inside the bare runtime image with --network none:
argv[1] is the console script to run; /w/wheels holds the wheels and requirements.txt.
"""

import json
import subprocess
import sys
import venv

script = sys.argv[1]
venv.create("/tmp/v", with_pip=True)
py = "/tmp/v/bin/python"


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True)


install = run(py, "-m", "pip", "install", "--no-index", "--require-hashes", "--find-links", "/w/wheels",
              "-r", "/w/wheels/requirements.txt")
check = run(py, "-m", "pip", "check")
listing = run(py, "-m", "pip", "list", "--format", "json")
console = run("/tmp/v/bin/" + script)
print(json.dumps({
    "install": install.returncode,
    "install_log": (install.stdout + install.stderr)[-3000:],
    "check": check.returncode,
    "check_log": check.stdout + check.stderr,
    "installed": {p["name"]: p["version"] for p in json.loads(listing.stdout or "[]")},
    "script_rc": console.returncode,
    "script": console.stdout,
    "script_err": console.stderr[-3000:],
}))
