"""Make an accepted log durable: the stream first, the fallback spool if Redis fails.

A log is only ever reported accepted once it is in the stream or fsync'd to the
spool; if neither is possible the caller must answer 503.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from common.errors import RedisUnavailable
from common.spool import SpoolError, SpoolWriter
from common.stream import LogStream

log = logging.getLogger("stealthflow.api")


class NotDurable(Exception):
    """Neither the stream nor the spool could take the log."""


def store(canonical: dict[str, Any], stream: LogStream, spool: SpoolWriter) -> bool:
    """Append to the stream, or spool; returns ``True`` when the log was spooled."""
    data = orjson.dumps(canonical)
    try:
        stream.append(canonical["id"], data)
    except RedisUnavailable as exc:
        try:
            spool.write(data)
        except SpoolError as spool_exc:
            log.error("log refused: stream unavailable (%s) and %s", exc, spool_exc)
            raise NotDurable(str(spool_exc)) from None
        log.warning("stream unavailable, log spooled: %s", exc)
        return True
    if spool.active:  # Redis is back: release the spool file for replay
        spool.close()
        log.info("stream available again; spool file closed for replay-fallback")
    return False
