__version__ = "0.1.0"


def mean(values):
    values = list(values)
    return sum(values) / len(values)


def hello() -> str:
    return f"mathx {__version__}"
