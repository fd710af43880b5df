"""Console entry point of the clients project."""

from importlib.metadata import version

import click
from hermes import gwftools, quiver, stillwater, typeo


def summary() -> str:
    """One line naming this project and every local package it loaded, with versions."""
    libs = ", ".join(m.describe() for m in (gwftools, quiver, stillwater, typeo))
    return f"clients {version('clients')}: {libs}"


@click.command()
@click.option("--batch", default=2, show_default=True, help="Frames per request.")
def main(batch: int) -> None:
    """Print what this client loaded and how it would batch three frames."""
    click.echo(summary())
    click.echo(f"batches: {gwftools.frame_batches(['f0', 'f1', 'f2'], batch)}")
