from tabulate import tabulate

from acme import greeting, log

PROJECT = "greet-cli"
VERSION = "0.1.0"


def main() -> None:
    logger = log.get_logger("cli")
    logger.debug(greeting.greet(PROJECT))
    line = f"{PROJECT} {VERSION}: " + ", ".join(sorted([greeting.hello(), log.hello()]))
    # A one-cell "plain" table is the cell itself: tabulate must be importable.
    print(tabulate([[line]], tablefmt="plain", disable_numparse=True))


if __name__ == "__main__":
    main()
