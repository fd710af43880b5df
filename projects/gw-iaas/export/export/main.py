"""Console entry point of the export project."""

from importlib.metadata import version

import numpy as np
from hermes import quiver, typeo


def summary() -> str:
    """One line naming this project and every local package it loaded, with versions."""
    return f"export {version('export')}: {quiver.describe()}, {typeo.describe()}"


def main() -> None:
    print(summary())
    weights = np.arange(6).reshape(2, 3)
    print(quiver.model_table({"bbhnet": int(weights.sum())}))
