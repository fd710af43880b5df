"""The smallest project: one library, one script."""

from importlib.metadata import version

from hermes import typeo


def summary() -> str:
    """One line naming this project and every local package it loaded, with versions."""
    return f"hello-world {version('hello-world')}: {typeo.describe()}"


def main() -> None:
    print(summary())
