"""The services' side of a measurement: indices prepared for it, and what arrived.

Indices are created before a phase from the real template, with refresh off (the
template's ``refresh_interval`` is put back afterwards), so no phase pays for index
creation or periodic refreshes and all pay the same final ``_refresh``. The group's
state tells when workers are done: every entry handed to the group, none pending.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import redis
from elasticsearch import Elasticsearch

from bench.harness import BenchError
from common.config import Settings
from common.documents import index_for
from common.elastic import install_index_template
from common.index_template import index_template


def prepare_indices(es: Elasticsearch, settings: Settings, timestamps: Iterable[str]) -> list[str]:
    """The template, and every daily index the logs need, created with refresh off."""
    install_index_template(es, settings)
    names = sorted({index_for(settings.index_alias, stamp) for stamp in timestamps})
    for name in names:
        es.indices.create(index=name, settings={"index": {"refresh_interval": "-1"}})
    es.cluster.health(index=",".join(names), wait_for_status="yellow", timeout="30s")
    return names


def restore_refresh(es: Elasticsearch, settings: Settings, names: list[str]) -> None:
    body = index_template(settings.index_pattern, settings.index_alias)
    value = body["template"]["settings"]["index"]["refresh_interval"]
    es.indices.put_settings(index=",".join(names), settings={"refresh_interval": value})


def wait_searchable(es: Elasticsearch, alias: str, expected: int, deadline: float) -> None:
    """``_refresh`` + ``_count`` until ``expected`` documents are found (bounded)."""
    while True:
        es.indices.refresh(index=alias)
        found = int(es.count(index=alias)["count"])
        if found >= expected:
            return
        if time.monotonic() > deadline:
            raise BenchError(f"{alias}: {found} of {expected} documents searchable")
        time.sleep(0.1)


def group_done(client: redis.Redis, settings: Settings) -> bool:
    """Everything in the stream was handed to the group, and nothing is pending."""
    key = settings.stream_key
    last = client.xinfo_stream(key)["last-generated-id"]
    for group in client.xinfo_groups(key):
        if group["name"] == settings.consumer_group.encode():
            return bool(group["pending"] == 0 and group["last-delivered-id"] == last)
    return False


def consumers(client: redis.Redis, settings: Settings) -> int:
    """Consumers in the group (a worker joins on its first read or claim)."""
    try:
        return len(client.xinfo_consumers(settings.stream_key, settings.consumer_group))
    except redis.ResponseError:  # no stream or no group yet
        return 0
