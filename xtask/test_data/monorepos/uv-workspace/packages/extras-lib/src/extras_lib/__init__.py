def hello() -> str:
    return "extras-lib 0.3.0"


def table(rows: list[list[str]]) -> str:
    """Needs the `fancy` extra: fails with ImportError when tabulate is missing."""
    from tabulate import tabulate

    return tabulate(rows)
