"""Operator commands: ``python manage.py --help``."""

from __future__ import annotations

import click

from common.config import load_settings
from common.elastic import install_index_template, make_elasticsearch
from common.errors import TransientError
from worker.cli import worker_command


@click.group()
def cli() -> None:
    """StealthFlow Observability: log ingestion operations."""


cli.add_command(worker_command, "worker")


@cli.command("init-index")
def init_index() -> None:
    """Install or update the index template and alias."""
    settings = load_settings()
    try:
        install_index_template(make_elasticsearch(settings), settings)
    except TransientError as exc:
        raise click.ClickException(f"Elasticsearch unavailable: {exc}") from None
    click.echo(f"index template {settings.template_name} installed for {settings.index_pattern}")
    click.echo(f"daily indices join the alias {settings.index_alias}")


if __name__ == "__main__":
    cli()
