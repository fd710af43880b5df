import logging

__version__ = "0.1.0"


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"acme.{name}")


def hello() -> str:
    return f"acme.log {__version__}"
