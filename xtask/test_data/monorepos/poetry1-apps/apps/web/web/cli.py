import acme_models
import acme_storage
import click

from web import __version__


def main() -> None:
    libs = sorted([acme_models.hello(), acme_storage.hello()])
    click.echo(f"web {__version__}: " + ", ".join(libs))


if __name__ == "__main__":
    main()
