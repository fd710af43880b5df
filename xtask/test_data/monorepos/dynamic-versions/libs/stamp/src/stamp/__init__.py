from importlib.metadata import version


def hello() -> str:
    return f"stamp {version('stamp')}"
