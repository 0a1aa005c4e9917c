"""The dead-letter stream ``logs:failed``: what the worker could never store, and why.

A record keeps the original ``id`` and ``data`` untouched, so it can be inspected
and replayed as it was. ``DeadLetterQueue`` is the adapter for triage: list by
error type, show one, replay to the main stream, purge. Replaying moves entries
(XADD to the stream + XDEL from the DLQ) in one transaction per chunk, carrying
``attempts`` and ``first_failed_at`` so an entry that fails again comes back with
its history.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from marshmallow import ValidationError

from common.config import Settings
from common.redis_client import redis_errors_converted
from common.schema import parse_timestamp

CHUNK = 500
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class DeadLetter:
    source_entry_id: str
    log_id: str
    data: bytes
    error_type: str
    reason: str
    status: int
    worker: str
    attempts: int
    first_failed_at: str
    last_failed_at: str

    def fields(self) -> dict[str, str | bytes | int]:
        return {
            "id": self.log_id,
            "data": self.data,
            "error_type": self.error_type,
            "reason": self.reason[:2000],
            "status": self.status,
            "source_entry_id": self.source_entry_id,
            "worker": self.worker,
            "attempts": self.attempts,
            "first_failed_at": self.first_failed_at,
            "last_failed_at": self.last_failed_at,
        }


def since_to_ms(value: str, now_s: float | None = None) -> int:
    """``30m``, ``2h``, ``7d`` (ago) or an RFC 3339 time → epoch milliseconds."""
    found = _DURATION.match(value.strip())
    if found:
        now_s = time.time() if now_s is None else now_s
        return int((now_s - int(found[1]) * _UNIT_S[found[2]]) * 1000)
    try:
        return int(parse_timestamp(value).timestamp() * 1000)
    except ValidationError:
        raise ValueError(f"not a duration or an RFC 3339 time: {value!r}") from None


@dataclass(frozen=True)
class Filter:
    error_type: str | None = None
    since_ms: int | None = None

    @property
    def empty(self) -> bool:
        return self.error_type is None and self.since_ms is None

    def matches(self, fields: dict[str, str]) -> bool:
        return self.error_type is None or fields.get("error_type") == self.error_type


@dataclass
class TypeSummary:
    count: int = 0
    sample_reason: str = ""
    oldest: str = ""
    newest: str = ""


@dataclass
class DlqReplay:
    matched: int = 0
    moved: int = 0
    entry_ids: list[str] = field(default_factory=list)


Fields = dict[bytes, bytes]


def _text(fields: Fields) -> dict[str, str]:
    return {k.decode(): v.decode(errors="replace") for k, v in fields.items() if k != b"data"}


class DeadLetterQueue:
    """Triage of the DLQ; Redis errors surface as ``RedisUnavailable``."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client, self.key, self.stream_key = client, settings.dlq_key, settings.stream_key

    def entries(self, where: Filter = Filter()) -> Iterator[tuple[str, Fields]]:
        """Matching entries, oldest first, read in chunks."""
        start = f"{where.since_ms}-0" if where.since_ms is not None else "-"
        while True:
            with redis_errors_converted():
                rows: Any = self.client.xrange(self.key, min=start, max="+", count=CHUNK)
            for entry_id, fields in rows:
                if where.matches(_text(fields)):
                    yield entry_id.decode(), fields
            if len(rows) < CHUNK:
                return
            start = "(" + rows[-1][0].decode()

    def summary(self, where: Filter = Filter()) -> dict[str, TypeSummary]:
        groups: dict[str, TypeSummary] = {}
        for _entry_id, fields in self.entries(where):
            text = _text(fields)
            group = groups.setdefault(text.get("error_type", "?"), TypeSummary())
            group.count += 1
            group.sample_reason = group.sample_reason or text.get("reason", "")
            group.oldest = group.oldest or text.get("last_failed_at", "")
            group.newest = text.get("last_failed_at", "")
        return groups

    def show(self, entry_id: str) -> dict[str, Any] | None:
        with redis_errors_converted():
            rows: Any = self.client.xrange(self.key, min=entry_id, max=entry_id)
        if not rows:
            return None
        fields = rows[0][1]
        return {"entry_id": entry_id, **_text(fields), "data": fields.get(b"data", b"").decode()}

    def replay(
        self,
        where: Filter = Filter(),
        limit: int | None = None,
        dry_run: bool = False,
        progress: Callable[[int], None] = lambda _n: None,
    ) -> DlqReplay:
        """Move matching entries back to the main stream (XADD + XDEL per chunk, atomic)."""
        result = DlqReplay()
        chunk: list[tuple[str, Fields]] = []
        for entry_id, fields in self.entries(where):
            if limit is not None and result.matched >= limit:
                break
            result.matched += 1
            result.entry_ids.append(entry_id)
            chunk.append((entry_id, fields))
            if len(chunk) >= CHUNK:
                result.moved += self._move(chunk, dry_run)
                progress(len(chunk))
                chunk = []
        if chunk:
            result.moved += self._move(chunk, dry_run)
            progress(len(chunk))
        return result

    def _move(self, chunk: Sequence[tuple[str, Fields]], dry_run: bool) -> int:
        if dry_run:
            return 0
        pipe = self.client.pipeline(transaction=True)
        for _entry_id, fields in chunk:
            pipe.xadd(
                self.stream_key,
                {
                    "id": fields.get(b"id", b""),
                    "data": fields.get(b"data", b""),
                    "attempts": fields.get(b"attempts", b"1"),
                    "first_failed_at": fields.get(b"first_failed_at", b""),
                },
            )
        pipe.xdel(self.key, *(entry_id for entry_id, _ in chunk))
        with redis_errors_converted():
            pipe.execute()
        return len(chunk)

    def purge(self, where: Filter = Filter()) -> int:
        """Delete matching entries (all of them without a filter); returns how many."""
        if where.empty:
            with redis_errors_converted():
                pipe = self.client.pipeline(transaction=True)
                pipe.xlen(self.key)
                pipe.delete(self.key)
                count, _ = pipe.execute()
            return int(count)
        removed = 0
        batch = [entry_id for entry_id, _ in self.entries(where)]
        for start in range(0, len(batch), CHUNK):
            with redis_errors_converted():
                removed += int(self.client.xdel(self.key, *batch[start : start + CHUNK]))
        return removed
