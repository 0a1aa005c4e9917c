"""Index retention: which daily indices are past it (pure), and deleting them.

Daily indices are ``<alias>-YYYY.MM.DD`` by the logs' own timestamps. An index is
past retention when its whole day ended more than ``keep`` ago; today's index is
never deleted, whatever ``keep`` says.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from elasticsearch import Elasticsearch

from common.config import Settings
from common.elastic import elasticsearch_errors_converted

_DURATION = re.compile(r"^(\d+)([dhw])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_retention(value: str) -> timedelta:
    """``30d``, ``12h``, ``2w`` → a timedelta; ``ValueError`` otherwise."""
    found = _DURATION.match(value.strip())
    if not found:
        raise ValueError(f"not a retention like 30d, 12h or 2w: {value!r}")
    return int(found[1]) * _UNITS[found[2]]


def index_day(alias: str, name: str) -> date | None:
    prefix = f"{alias}-"
    if not name.startswith(prefix):
        return None
    try:
        return datetime.strptime(name[len(prefix) :], "%Y.%m.%d").replace(tzinfo=UTC).date()
    except ValueError:
        return None


def past_retention(alias: str, names: list[str], keep: timedelta, now: datetime) -> list[str]:
    """Indices whose day ended before ``now - keep``; never today's or a future one."""
    cutoff = now - keep
    doomed = []
    for name in sorted(names):
        day = index_day(alias, name)
        if day is None or day >= now.date():
            continue
        day_end = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
        if day_end <= cutoff:
            doomed.append(name)
    return doomed


def daily_indices(client: Elasticsearch, settings: Settings) -> dict[str, int]:
    """Daily index → document count."""
    with elasticsearch_errors_converted():
        response = client.cat.indices(
            index=settings.index_pattern, format="json", h="index,docs.count"
        )
    rows: list[dict[str, Any]] = cast(list[dict[str, Any]], response.body)  # format=json
    return {str(row["index"]): int(row.get("docs.count") or 0) for row in rows}


def delete_indices(client: Elasticsearch, names: list[str]) -> None:
    for name in names:
        with elasticsearch_errors_converted():
            client.indices.delete(index=name)
