"""Operator commands: ``python manage.py --help``.

Each command is a thin wrapper over a library function. Exit codes: 0 done,
1 something was left undone (e.g. a spool file failed), 2 usage error,
3 Redis or Elasticsearch unavailable.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from common.config import Settings, load_settings
from common.dlq import DeadLetterQueue, Filter, since_to_ms
from common.elastic import (
    attach_lifecycle,
    has_lifecycle_management,
    install_index_template,
    make_elasticsearch,
)
from common.errors import TransientError
from common.redis_client import make_redis
from common.replay import replay_spool
from common.retention import daily_indices, delete_indices, parse_retention, past_retention
from common.spool import spool_size
from common.stats import gather
from common.stream import LogStream
from worker.cli import worker_command

EXIT_INCOMPLETE = 1
EXIT_UNAVAILABLE = 3


class Unavailable(click.ClickException):
    exit_code = EXIT_UNAVAILABLE


def _settings() -> Settings:
    return load_settings()


def _dlq(settings: Settings) -> DeadLetterQueue:
    return DeadLetterQueue(make_redis(settings), settings)


def _filter(error_type: str | None, since: str | None) -> Filter:
    try:
        since_ms = since_to_ms(since) if since else None
    except ValueError:
        raise click.BadParameter(
            "use 30m, 2h, 7d or an RFC 3339 time", param_hint="--since"
        ) from None
    return Filter(error_type=error_type, since_ms=since_ms)


def _unavailable(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except TransientError as exc:
        raise Unavailable(str(exc)) from None


@click.group()
def cli() -> None:
    """StealthFlow Observability: log ingestion operations."""


cli.add_command(worker_command, "worker")


@cli.command("init-index")
@click.option(
    "--ilm-delete-after",
    help="Where the cluster has ILM: attach a lifecycle policy deleting indices this long "
    "after creation (e.g. 30d), instead of running prune.",
)
def init_index(ilm_delete_after: str | None) -> None:
    """Install or update the index template and alias."""
    settings = _settings()
    es = make_elasticsearch(settings)
    if ilm_delete_after:
        if not _unavailable(lambda: has_lifecycle_management(es)):
            raise click.ClickException(
                "this cluster has no index lifecycle management (ILM); schedule "
                f"`manage.py prune --older-than {ilm_delete_after}` instead"
            )
        policy = _unavailable(lambda: attach_lifecycle(es, settings, ilm_delete_after))
        click.echo(f"lifecycle policy {policy}: delete after {ilm_delete_after}")
    else:
        _unavailable(lambda: install_index_template(es, settings))
    click.echo(f"index template {settings.template_name} installed for {settings.index_pattern}")
    click.echo(f"daily indices join the alias {settings.index_alias}")


@cli.command("replay-fallback")
@click.option("--dir", "directory", type=click.Path(path_type=Path), help="Default: FALLBACK_DIR.")
@click.option("--archive", type=click.Path(path_type=Path), help="Move replayed files here.")
@click.option("--dry-run", is_flag=True, help="Count what would be replayed; change nothing.")
def replay_fallback(directory: Path | None, archive: Path | None, dry_run: bool) -> None:
    """Append spooled logs to the stream; remove each file once all of it is in."""
    settings = _settings()
    directory = directory or Path(settings.fallback_dir)
    stream = LogStream(make_redis(settings), settings)
    total = spool_size(directory)["bytes"]
    with click.progressbar(length=total, label="replaying spool", file=sys.stderr) as bar:
        summary = replay_spool(
            directory, stream, dry_run=dry_run, archive=archive, progress=bar.update
        )
    verb = "would append" if dry_run else "appended"
    click.echo(
        f"{summary.files} file(s): {verb} {summary.appended} log(s), "
        f"{summary.dead_lettered} corrupt line(s) {'would go' if dry_run else 'sent'} to the DLQ"
    )
    if summary.busy:
        click.echo(f"skipped {len(summary.busy)} file(s) still being written: {summary.busy}")
    for name, error in summary.failed.items():
        click.echo(f"FAILED {name}: {error} (file kept; run again)", err=True)
    if summary.failed:
        sys.exit(EXIT_INCOMPLETE)


@cli.command("replay-dlq")
@click.option("--error-type", help="Only entries with this error type.")
@click.option("--since", help="Only entries dead-lettered since (30m, 2h, 7d, RFC 3339).")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many entries.")
@click.option("--dry-run", is_flag=True, help="Count what would be replayed; change nothing.")
def replay_dlq(error_type: str | None, since: str | None, limit: int | None, dry_run: bool) -> None:
    """Move dead-lettered logs back to the stream (their ids are kept)."""
    settings = _settings()
    dlq = _dlq(settings)
    where = _filter(error_type, since)
    total = _unavailable(lambda: sum(1 for _ in dlq.entries(where)))
    total = min(total, limit) if limit else total
    with click.progressbar(length=total, label="replaying DLQ", file=sys.stderr) as bar:
        result = _unavailable(
            lambda: dlq.replay(where, limit=limit, dry_run=dry_run, progress=bar.update)
        )
    if dry_run:
        click.echo(f"would move {result.matched} entr(y/ies) back to {settings.stream_key}")
    else:
        click.echo(f"moved {result.moved} entr(y/ies) back to {settings.stream_key}")


@cli.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def stats(as_json: bool) -> None:
    """Stream, consumers, backlog, DLQ by error type, spool, index document counts."""
    settings = _settings()
    redis_client = make_redis(settings)
    found = _unavailable(
        lambda: gather(
            LogStream(redis_client, settings),
            DeadLetterQueue(redis_client, settings),
            make_elasticsearch(settings),
            settings,
        )
    )
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    click.echo(render_stats(found))


@cli.command("prune")
@click.option("--older-than", "older_than", required=True, help="Retention, e.g. 30d, 2w, 12h.")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def prune(older_than: str, dry_run: bool, yes: bool) -> None:
    """Delete daily indices past retention (never today's)."""
    try:
        keep = parse_retention(older_than)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    settings = _settings()
    es = make_elasticsearch(settings)
    indices = _unavailable(lambda: daily_indices(es, settings))
    doomed = past_retention(settings.index_alias, list(indices), keep, datetime.now(UTC))
    if not doomed:
        click.echo(f"nothing older than {older_than} under {settings.index_alias}")
        return
    for name in doomed:
        click.echo(f"{'would delete' if dry_run else 'delete'} {name} ({indices[name]} docs)")
    if dry_run:
        return
    if not yes:
        click.confirm(f"Delete {len(doomed)} index(es) for good?", abort=True)
    with click.progressbar(doomed, label="deleting", file=sys.stderr) as names:
        for name in names:
            _unavailable(functools.partial(delete_indices, es, [name]))
    click.echo(f"deleted {len(doomed)} index(es)")


@cli.group()
def dlq() -> None:
    """Inspect and clean the dead-letter stream."""


@dlq.command("list")
@click.option("--error-type", help="Only entries with this error type.")
@click.option("--since", help="Only entries dead-lettered since (30m, 2h, 7d, RFC 3339).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def dlq_list(error_type: str | None, since: str | None, as_json: bool) -> None:
    """Dead-lettered logs grouped by error type, with counts and a sample reason."""
    settings = _settings()
    groups = _unavailable(lambda: _dlq(settings).summary(_filter(error_type, since)))
    if as_json:
        click.echo(json.dumps({name: vars(group) for name, group in groups.items()}, indent=2))
        return
    if not groups:
        click.echo(f"{settings.dlq_key} is empty")
        return
    click.echo(f"{'error type':<32} {'count':>7}  {'newest':<28} sample reason")
    for name, group in sorted(groups.items(), key=lambda item: -item[1].count):
        reason = group.sample_reason.replace("\n", " ")[:80]
        click.echo(f"{name:<32} {group.count:>7}  {group.newest:<28} {reason}")


@dlq.command("show")
@click.argument("entry_id")
def dlq_show(entry_id: str) -> None:
    """One DLQ entry in full (JSON)."""
    settings = _settings()
    found = _unavailable(lambda: _dlq(settings).show(entry_id))
    if found is None:
        raise click.ClickException(f"no entry {entry_id} in {settings.dlq_key}")
    click.echo(json.dumps(found, indent=2))


@dlq.command("purge")
@click.option("--error-type", help="Only entries with this error type.")
@click.option("--since", help="Only entries dead-lettered since (30m, 2h, 7d, RFC 3339).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def dlq_purge(error_type: str | None, since: str | None, yes: bool) -> None:
    """Delete dead-lettered logs for good."""
    settings = _settings()
    queue = _dlq(settings)
    where = _filter(error_type, since)
    count = _unavailable(lambda: sum(1 for _ in queue.entries(where)))
    if count == 0:
        click.echo("nothing to purge")
        return
    if not yes:
        click.confirm(f"Delete {count} entr(y/ies) from {settings.dlq_key} for good?", abort=True)
    removed = _unavailable(lambda: queue.purge(where))
    click.echo(f"purged {removed} entr(y/ies)")


def render_stats(found: dict[str, Any]) -> str:
    stream, dlq_found, spool = found["stream"], found["dlq"], found["spool"]
    lines = [
        f"stream   {stream['key']}: {stream['length']} entries, backlog {stream['backlog']}, "
        f"pending {stream['pending']} (group {stream['group']})",
    ]
    for consumer in stream["consumers"]:
        lines.append(
            f"  consumer {consumer['name']}: pending {consumer['pending']}, "
            f"idle {consumer['idle_ms'] / 1000:.0f}s"
        )
    recent = found["recent"]
    lines.append(
        f"last {recent['window_s']}s: {recent['indexed']} indexed, "
        f"{recent['dead_lettered']} dead-lettered"
    )
    by_type = ", ".join(f"{k}: {v}" for k, v in dlq_found["by_error_type"].items()) or "-"
    lines.append(f"dlq      {dlq_found['key']}: {dlq_found['length']} ({by_type})")
    lines.append(f"spool    {spool['dir']}: {spool['files']} file(s), {spool['bytes']} bytes")
    indices = found["indices"]
    if "error" in indices:
        lines.append(f"indices  {indices['alias']}: unavailable ({indices['error']})")
    else:
        total = sum(indices["docs"].values())
        lines.append(f"indices  {indices['alias']}: {len(indices['docs'])} daily, {total} docs")
        lines.extend(f"  {name}: {docs}" for name, docs in sorted(indices["docs"].items()))
    return "\n".join(lines)


if __name__ == "__main__":
    cli()
