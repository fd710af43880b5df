__version__ = "0.4.0"


def total(values: list[int]) -> int:
    return sum(values)


def hello() -> str:
    return f"tools {__version__}"
