from packaging.version import Version

__version__ = "0.2.0"


def is_newer(a: str, b: str) -> bool:
    return Version(a) > Version(b)


def hello() -> str:
    return f"alpha {__version__}"
