import common
import tomli

from legacy import __version__


def main() -> None:
    name = tomli.loads('name = "legacy"')["name"]
    print(name + " " + __version__ + ": " + ", ".join(sorted([common.hello()])))


if __name__ == "__main__":
    main()
