"""Builds wheels of local packages with their own PEP 517 backends; xtask runs it in the build image.

argv: OUT_ROOT DIR... ; each DIR's wheel goes to OUT_ROOT/<index>/. Prints one JSON line per
built wheel; for a failure, a block on stderr between `xtask-build-failed DIR` and
`xtask-build-end` with the tail of the backend's output.
"""

import concurrent.futures
import json
import os
import subprocess
import sys

BUILD_ONE = r"""
import importlib, os, sys, tomllib
src, out = sys.argv[1], sys.argv[2]
os.chdir(src)
with open("pyproject.toml", "rb") as f:
    system = tomllib.load(f).get("build-system", {})
sys.path[:0] = [os.path.join(src, p) for p in system.get("backend-path", [])]
module, _, attr = system.get("build-backend", "setuptools.build_meta:__legacy__").partition(":")
backend = importlib.import_module(module)
for part in filter(None, attr.split(".")):
    backend = getattr(backend, part)
print(backend.build_wheel(out))
"""


def build(job):
    src, out = job
    os.makedirs(out, exist_ok=True)
    proc = subprocess.run([sys.executable, "-c", BUILD_ONE, src, out], capture_output=True, text=True)
    return src, out, proc


def main():
    out_root, dirs = sys.argv[1], sys.argv[2:]
    jobs = [(d, os.path.join(out_root, str(i))) for i, d in enumerate(dirs)]
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for src, out, proc in pool.map(build, jobs):
            lines = proc.stdout.strip().splitlines()
            if proc.returncode == 0 and lines:
                print(json.dumps({"dir": src, "wheel": os.path.join(out, lines[-1])}), flush=True)
            else:
                failed += 1
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
                print(f"xtask-build-failed {src}\n{tail}\nxtask-build-end", file=sys.stderr, flush=True)
    sys.exit(1 if failed else 0)


main()
