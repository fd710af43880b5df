"""Library built with flit_core."""


def hello() -> str:
    return "flit-lib 0.3.0"
