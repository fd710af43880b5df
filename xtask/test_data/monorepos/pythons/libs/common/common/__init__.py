import sys

__version__ = "1.0.0"


def python_version() -> str:
    return "%d.%d" % sys.version_info[:2]


def hello() -> str:
    return "common " + __version__
