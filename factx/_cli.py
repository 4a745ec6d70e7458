"""The ``factx`` command: a thin click layer. Results to stdout, progress to stderr.

This is the only module that reads environment variables (through click's ``envvar``).
"""

from __future__ import annotations

import click

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="factx")
def cli() -> None:
    """Turn German news articles into grounded, verifiable facts."""


@cli.command()
def extract() -> None:
    """(being built: issue 2)"""
    raise click.UsageError("not yet")


@cli.command()
def check() -> None:
    """(being built: issue 4)"""
    raise click.UsageError("not yet")


@cli.command(name="eval")
def eval_() -> None:
    """(being built: issue 5)"""
    raise click.UsageError("not yet")


def main() -> None:
    cli()
