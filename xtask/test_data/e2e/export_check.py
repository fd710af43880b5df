"""Prints the main-group third-party set that `poetry export` (poetry-plugin-export) gives for
the project in the working directory, with markers evaluated for this interpreter: one
`name==version` per line, local path packages left out. Run in the build image, offline."""

import subprocess

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

out = subprocess.run(
    ["poetry", "export", "--only", "main", "--without-hashes", "-f", "requirements.txt"],
    capture_output=True, text=True, check=True,
).stdout
pins = set()
for line in out.splitlines():
    line = line.strip()
    if not line or line.startswith(("#", "-")):
        continue
    req = Requirement(line)
    if req.url or (req.marker is not None and not req.marker.evaluate()):
        continue
    (spec,) = req.specifier
    pins.add(f"{canonicalize_name(req.name)}=={spec.version}")
print("\n".join(sorted(pins)))
