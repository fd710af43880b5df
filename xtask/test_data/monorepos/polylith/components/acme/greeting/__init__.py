from acme.greeting.core import greet, hello

__all__ = ["greet", "hello"]
