import attrs

__version__ = "0.1.0"


@attrs.frozen
class Item:
    name: str
    price: int


def hello() -> str:
    return f"acme-models {__version__}"
