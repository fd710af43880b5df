import six

__version__ = "0.3.0"


def as_text(value) -> str:
    return six.ensure_str(value)


def hello() -> str:
    return as_text(b"beta ") + __version__
