"""Builds wheels of local packages with their own PEP 517 backends; xtask runs it in a build image.

argv: JOBS_JSON, a list of {"src", "out", "python", "backend", "backend_path", "pyc", "site", "env"}:
each source tree (a private copy xtask made) is built by the Python of its own build
environment into its out folder. With "pyc", the wheel's modules are then compiled, as they
will be installed under "site", into that folder: hash-based, unchecked .pyc files that depend
on the sources only, exactly what compileall writes. Prints one JSON line {"job": n, "wheel":
path} per built wheel; for a failure, a block on stderr between `xtask-build-failed n` and
`xtask-build-end` with the tail of the output.
"""

import concurrent.futures
import importlib._bootstrap_external
import importlib.util
import json
import os
import subprocess
import sys
import zipfile

BUILD_ONE = r"""
import importlib, importlib.metadata, json, os, re, sys
src, out, spec, paths = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
os.chdir(src)
sys.path[:0] = [os.path.join(src, p) for p in paths]
module, _, attr = spec.partition(":")
backend = importlib.import_module(module)
for part in filter(None, attr.split(".")):
    backend = getattr(backend, part)
hook = getattr(backend, "get_requires_for_build_wheel", None)
missing = []
for req in (hook({}) if hook else None) or []:
    name = re.split(r"[\s\[<>=!~;@(]", req.strip(), maxsplit=1)[0]
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        missing.append(req)
if missing:
    sys.exit("the backend " + spec + " also asks for " + ", ".join(missing)
             + " (not in its [build-system] requires); for a package of the repo, add them there;"
             + " for an sdist, add the tools as Debian packages to [toolchain] system_packages,"
             + " or run the project on a Python for which the lock has a wheel")
print(backend.build_wheel(out))
"""


def build(job):
    os.makedirs(job["out"], exist_ok=True)
    args = [job["python"], "-c", BUILD_ONE, job["src"], job["out"], job["backend"],
            json.dumps(job["backend_path"])]
    # The environment's scripts come first on PATH, as PEP 517 frontends do (uv-build, meson,
    # cython and others are found there).
    env = dict(os.environ, PATH=os.path.dirname(job["python"]) + os.pathsep + os.environ.get("PATH", ""))
    env.update(job.get("env") or {})
    return subprocess.run(args, capture_output=True, text=True, env=env)


def compile_wheel(wheel, site, out):
    """Writes the .pyc of every module of `wheel` (purelib and platlib) under `out`, at the
    path it will have in the image."""
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        data = next((n.split("/")[0] for n in names if n.split("/")[0].endswith(".data")), None)
        for name in names:
            if not name.endswith(".py"):
                continue
            rel = name
            if data and name.startswith(data + "/"):
                scheme, _, rest = name[len(data) + 1:].partition("/")
                if scheme not in ("purelib", "platlib"):
                    continue
                rel = rest
            source = z.read(name)
            try:
                code = compile(source, site + "/" + rel, "exec", dont_inherit=True)
            except SyntaxError:
                continue  # as compileall and pip do: a module that does not compile is skipped
            pyc = importlib._bootstrap_external._code_to_hash_pyc(
                code, importlib.util.source_hash(source), False)
            head, tail = os.path.split(rel)
            stem = tail[:-3]
            where = os.path.join(out, site.lstrip("/"), head, "__pycache__")
            target = os.path.join(where, f"{stem}.{sys.implementation.cache_tag}.pyc")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(pyc)


def main():
    with open(sys.argv[1]) as f:
        jobs = json.load(f)
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for n, (job, proc) in enumerate(zip(jobs, pool.map(build, jobs))):
            lines = proc.stdout.strip().splitlines()
            if proc.returncode == 0 and lines:
                wheel = os.path.join(job["out"], lines[-1])
                if job.get("pyc"):
                    compile_wheel(wheel, job["site"], job["pyc"])
                print(json.dumps({"job": n, "wheel": wheel}), flush=True)
            else:
                failed += 1
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
                print(f"xtask-build-failed {n}\n{tail}\nxtask-build-end", file=sys.stderr, flush=True)
    sys.exit(1 if failed else 0)


main()
