import click
import core
import extras_lib
import util


@click.command()
def main() -> None:
    # The `fancy` extra of extras-lib must be installed: this fails without tabulate.
    assert extras_lib.table([["ok"]])
    names = sorted([core.hello(), util.hello(), extras_lib.hello()])
    click.echo("api 1.0.0: " + ", ".join(names))
