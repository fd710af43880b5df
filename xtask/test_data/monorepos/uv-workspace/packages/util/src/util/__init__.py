import core


def hello() -> str:
    return "util 0.2.0"


def closure() -> list[str]:
    return [hello(), core.hello()]
