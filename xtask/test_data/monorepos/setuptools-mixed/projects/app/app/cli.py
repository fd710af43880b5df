import alpha
import beta
import click

from app import __version__


def main() -> None:
    libs = sorted([alpha.hello(), beta.hello()])
    click.echo(f"app {__version__}: " + ", ".join(libs))


if __name__ == "__main__":
    main()
