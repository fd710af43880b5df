"""Streaming data helpers for hermes."""

from importlib.metadata import version
from typing import Iterable, Iterator

DIST = "hermes.stillwater"


def describe() -> str:
    """Name and version of this library as installed."""
    return f"{DIST} {version(DIST)}"


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Yield lists of at most `size` items."""
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
