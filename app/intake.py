"""Make accepted logs durable: the stream first, the fallback spool if Redis fails.

Logs are only ever reported accepted once they are in the stream or fsync'd to
the spool; if neither is possible the caller must answer 503. The logs of one
request go to Redis in one round trip (pipelined XADDs) or to the spool with one
fsync. If Redis fails half-way through a pipeline, all of them are spooled: the
ones Redis did take are then in the stream twice, which Elasticsearch stores once
(same ``_id``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from common.errors import RedisUnavailable
from common.spool import SpoolError, SpoolWriter
from common.stream import LogStream

log = logging.getLogger("stealthflow.api")


class NotDurable(Exception):
    """Neither the stream nor the spool could take the logs."""


def store(logs: Sequence[dict[str, Any]], stream: LogStream, spool: SpoolWriter) -> bool:
    """Append to the stream, or spool; returns ``True`` when the logs were spooled."""
    records = [(canonical["id"], orjson.dumps(canonical)) for canonical in logs]
    try:
        if len(records) == 1:
            stream.append(*records[0])
        else:
            stream.append_many(records)
    except RedisUnavailable as exc:
        try:
            spool.write_many([data for _id, data in records])
        except SpoolError as spool_exc:
            log.error("logs refused: stream unavailable (%s) and %s", exc, spool_exc)
            raise NotDurable(str(spool_exc)) from None
        log.warning("stream unavailable, %d log(s) spooled: %s", len(records), exc)
        return True
    if spool.active:  # Redis is back: release the spool file for replay
        spool.close()
        log.info("stream available again; spool file closed for replay")
    return False


class Backpressure:
    """Whether the group's backlog is past the high-water mark, asked of Redis at
    most once per ``ttl`` seconds per process (it is on every request's path)."""

    def __init__(
        self, high_water: int, ttl: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.high_water, self.ttl, self.clock = high_water, ttl, clock
        self._checked_at = float("-inf")
        self._over = False

    def over(self, stream: LogStream) -> bool:
        if self.clock() - self._checked_at >= self.ttl:
            self._checked_at = self.clock()
            try:
                self._over = stream.backlog() >= self.high_water
            except RedisUnavailable:
                self._over = False  # nothing to measure; the spool takes over
        return self._over
