import idna
import pylock_base
from packaging.version import Version


def main() -> None:
    assert Version("1.0.0") > Version("0.9")
    assert idna.encode("bücher.example") == b"xn--bcher-kva.example"
    names = sorted([pylock_base.hello()])
    print("tool-uv 1.0.0: " + ", ".join(names))
