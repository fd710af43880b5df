"""Typed config parsing for hermes tools."""

from importlib.metadata import version

import toml

DIST = "hermes.typeo"


def describe() -> str:
    """Name and version of this library as installed."""
    return f"{DIST} {version(DIST)}"


def parse_config(text: str) -> dict:
    """Parse a TOML config string into a dict."""
    return toml.loads(text)
