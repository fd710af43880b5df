"""Prints, as JSON, every file path of the image it runs in (not /proc, /sys, /dev), the
compilers on PATH, the user id, and `pip check` of the venv (run by the base image's own pip,
since the venv has none). Used by the image tests; run with the venv's python."""

import json
import os
import shutil
import subprocess
import sys

skip = {"/proc", "/sys", "/dev"}
files = []
for root, dirs, names in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(root, d) not in skip]
    files.extend(os.path.join(root, n) for n in names)
print(json.dumps({
    "files": sorted(files),
    "compilers": [c for c in ("gcc", "cc", "g++", "clang", "make") if shutil.which(c)],
    "uid": os.getuid(),
    "pip_check": subprocess.run(
        [os.path.join(sys.base_prefix, "bin", "python3"), "-m", "pip", "--python", sys.executable, "check"],
        capture_output=True, text=True,
    ).__dict__.get("stdout", ""),
}))
