from acme_models import Item

__version__ = "0.2.0"


class MemoryStore:
    def __init__(self) -> None:
        self._items: dict[str, Item] = {}

    def put(self, item: Item) -> None:
        self._items[item.name] = item

    def get(self, name: str) -> Item:
        return self._items[name]


def hello() -> str:
    return f"acme-storage {__version__}"
