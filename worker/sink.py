"""Index one batch of stream entries and decide each entry's fate.

``index_batch`` is the only place the worker sends data to Elasticsearch. It
returns which entries to acknowledge, which to dead-letter (with the reason) and
whether some must be retried; it never acknowledges anything itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from elasticsearch import Elasticsearch

from common.elastic import bulk
from common.errors import InvalidEntry
from common.metrics import BULK_LATENCY
from common.stream import StreamEntry
from worker.batch import Decoded, bulk_body, decode_entry
from worker.outcome import classify


@dataclass(frozen=True)
class Rejected:
    """An entry that can never be stored as it is."""

    entry: StreamEntry
    error_type: str
    reason: str
    status: int


@dataclass
class BatchResult:
    stored: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    retry: list[str] = field(default_factory=list)


def index_batch(
    client: Elasticsearch,
    entries: Sequence[StreamEntry],
    alias: str,
    now: Callable[[], str],
) -> BatchResult:
    """Decode, bulk-index, classify. Raises ``ElasticsearchUnavailable`` if the
    whole request failed (then nothing is stored and everything is retried)."""
    result = BatchResult()
    decoded: list[Decoded] = []
    for entry in entries:
        if not entry.fields:  # deleted from the stream while pending: nothing left to store
            result.stored.append(entry.entry_id)
            continue
        try:
            decoded.append(decode_entry(entry))
        except InvalidEntry as exc:
            result.rejected.append(Rejected(entry, "invalid_entry", str(exc), 0))
    if not decoded:
        return result
    body = bulk_body(decoded, alias, now())
    with BULK_LATENCY.time():
        items = bulk(client, body)
    outcome = classify(items, len(decoded))
    result.stored.extend(decoded[i].entry_id for i in outcome.stored)
    result.retry.extend(decoded[i].entry_id for i in outcome.retryable)
    for position, item in outcome.permanent:
        entry = decoded[position].entry
        reason = item.reason or "rejected by Elasticsearch"
        result.rejected.append(Rejected(entry, item.error_type or "rejected", reason, item.status))
    return result
