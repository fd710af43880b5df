"""Console entry point of the export project."""

import os
from importlib.metadata import version

import numpy as np
from hermes import quiver, typeo


def summary() -> str:
    """One line naming this project and every local package it loaded, with versions."""
    return f"export {version('export')}: {quiver.describe()}, {typeo.describe()}"


def load_config() -> dict:
    """The model repository config named by $EXPORT_CONFIG (the image sets it), or defaults."""
    path = os.environ.get("EXPORT_CONFIG")
    if not path:
        return {"repository": {"name": "default"}, "models": {"bbhnet": 1}}
    with open(path, encoding="utf-8") as f:
        return quiver.load_repo_config(f.read())


def main() -> None:
    print(summary())
    config = load_config()
    weights = np.arange(6).reshape(2, 3)
    print(f"repository: {config['repository']['name']} (weights checksum {int(weights.sum())})")
    print(quiver.model_table(config["models"]))
