from acme.cli.core import main

__all__ = ["main"]
