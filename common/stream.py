"""The Redis Stream adapter: the only module that talks to Redis about logs.

``LogStream`` appends canonical logs (fields ``id`` and ``data``), reads them for a
consumer of the group, and acknowledges them. Every Redis error is converted to
``RedisUnavailable`` here. Reads block at most ``block_ms`` (never forever), so a
worker always gets back to its loop to notice a shutdown request.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import redis
from redis import exceptions as redis_errors

from common.config import Settings
from common.dlq import DeadLetter
from common.errors import RedisUnavailable

P = ParamSpec("P")
T = TypeVar("T")


def make_redis(settings: Settings) -> redis.Redis:
    """A client with short timeouts, so the API never hangs on a sick Redis."""
    return redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_socket_timeout,
        socket_connect_timeout=settings.redis_socket_timeout,
        health_check_interval=30,
    )


@contextmanager
def redis_errors_converted() -> Iterator[None]:
    """Turn any redis-py error into ``RedisUnavailable`` (at the adapter boundary)."""
    try:
        yield
    except redis_errors.RedisError as exc:
        raise RedisUnavailable(f"{type(exc).__name__}: {exc}") from None


def _converted(method: Callable[P, T]) -> Callable[P, T]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with redis_errors_converted():
            return method(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class StreamEntry:
    """One stream entry as read by a consumer; ``fields`` is empty if it was trimmed."""

    entry_id: str
    fields: dict[str, bytes]


def _decode_entries(raw: Any) -> list[StreamEntry]:
    entries: list[StreamEntry] = []
    for _stream, messages in raw or []:
        for entry_id, fields in messages:
            names = {k.decode(): v for k, v in (fields or {}).items()}
            entries.append(StreamEntry(entry_id.decode(), names))
    return entries


class LogStream:
    """The log stream and its consumer group, for one Redis client."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client = client
        self.key = settings.stream_key
        self.dlq_key = settings.dlq_key
        self.group = settings.consumer_group

    @_converted
    def append(self, log_id: str, data: bytes) -> str:
        """XADD one canonical log; returns the stream entry id once Redis holds it."""
        entry_id = self.client.xadd(self.key, {"id": log_id, "data": data})
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    @_converted
    def ensure_group(self) -> None:
        """Create the consumer group (and the stream) if missing.

        The group starts at ``0`` so that logs appended before any worker ever ran
        are delivered too.
        """
        try:
            self.client.xgroup_create(self.key, self.group, id="0", mkstream=True)
        except redis_errors.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    @_converted
    def read(
        self, consumer: str, count: int, block_ms: int, *, pending: bool = False
    ) -> list[StreamEntry]:
        """Read up to ``count`` entries for ``consumer``.

        ``pending=True`` re-reads this consumer's own delivered-but-unacknowledged
        entries (without blocking); otherwise new entries, blocking at most
        ``block_ms``.
        """
        start = "0" if pending else ">"
        raw = self.client.xreadgroup(
            self.group,
            consumer,
            {self.key: start},
            count=count,
            block=None if pending else block_ms,
        )
        return _decode_entries(raw)

    @_converted
    def ack(self, entry_ids: Sequence[str]) -> int:
        if not entry_ids:
            return 0
        return int(self.client.xack(self.key, self.group, *entry_ids))

    @_converted
    def dead_letter(self, records: Sequence[DeadLetter]) -> None:
        """Append to the DLQ and acknowledge the sources in one transaction.

        Either both happen or neither: an entry is never acknowledged without its
        dead-letter record, and never dead-lettered twice.
        """
        if not records:
            return
        pipe = self.client.pipeline(transaction=True)
        for record in records:
            pipe.xadd(self.dlq_key, record.fields())  # type: ignore[arg-type]
        pipe.xack(self.key, self.group, *(r.source_entry_id for r in records))
        pipe.execute()

    @_converted
    def delivery_counts(self, consumer: str, entry_ids: Sequence[str]) -> dict[str, int]:
        """How many times each pending entry has been delivered (1 = first time)."""
        counts: dict[str, int] = {}
        for entry_id in entry_ids:
            rows = self.client.xpending_range(
                self.key, self.group, min=entry_id, max=entry_id, count=1, consumername=consumer
            )
            counts[entry_id] = int(rows[0]["times_delivered"]) if rows else 1
        return counts

    @_converted
    def length(self) -> int:
        return int(self.client.xlen(self.key))

    @_converted
    def dlq_length(self) -> int:
        return int(self.client.xlen(self.dlq_key))

    @_converted
    def pending_count(self) -> int:
        """Entries delivered to the group's consumers and not yet acknowledged."""
        try:
            summary = self.client.xpending(self.key, self.group)
        except redis_errors.ResponseError as exc:
            if "NOGROUP" in str(exc):
                return 0
            raise
        return int(summary["pending"])

    @_converted
    def ping_ms(self) -> float:
        started = time.perf_counter()
        self.client.ping()
        return (time.perf_counter() - started) * 1000
