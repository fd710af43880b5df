__version__ = "0.3.0"


def hello() -> str:
    return f"core {__version__}"
