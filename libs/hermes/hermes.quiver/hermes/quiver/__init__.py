"""Model repository helpers for hermes."""

from importlib.metadata import version

from hermes import typeo

DIST = "hermes.quiver"


def describe() -> str:
    """Name and version of this library as installed."""
    return f"{DIST} {version(DIST)}"


def model_table(models: dict[str, int]) -> str:
    """Render model names and versions; uses tabulate when the `tabular` extra is installed."""
    rows = sorted(models.items())
    try:
        from tabulate import tabulate
    except ImportError:
        return "\n".join(f"{name} {ver}" for name, ver in rows)
    return tabulate(rows, headers=["model", "version"])


def load_repo_config(text: str) -> dict:
    """Model repository config, parsed with hermes.typeo."""
    return typeo.parse_config(text)
