import acme_models
from tabulate import tabulate

from worker import __version__


def main() -> None:
    line = f"worker {__version__}: " + ", ".join(sorted([acme_models.hello()]))
    # A one-cell "plain" table is the cell itself: tabulate must be importable.
    print(tabulate([[line]], tablefmt="plain", disable_numparse=True))


if __name__ == "__main__":
    main()
