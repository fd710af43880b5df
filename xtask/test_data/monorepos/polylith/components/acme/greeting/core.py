# Bricks are not distributions of their own: they carry the version of the
# projects that ship them (greet-cli 0.1.0).
__version__ = "0.1.0"


def greet(name: str) -> str:
    return f"Hello, {name}!"


def hello() -> str:
    return f"acme.greeting {__version__}"
