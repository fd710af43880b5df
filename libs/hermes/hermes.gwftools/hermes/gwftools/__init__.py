"""Gravitational-wave frame tools for hermes."""

from importlib.metadata import version

from hermes import stillwater

DIST = "hermes.gwftools"


def describe() -> str:
    """Name and version of this library as installed."""
    return f"{DIST} {version(DIST)}"


def frame_batches(frames: list[str], size: int) -> list[list[str]]:
    """Group frame file names into batches, via hermes.stillwater."""
    return list(stillwater.batched(frames, size))


def gcs_available() -> bool:
    """True when the `gcs` extra (which brings hermes.quiver) is installed."""
    try:
        from hermes import quiver  # noqa: F401
    except ImportError:
        return False
    return True
