"""Redis connections and the conversion of redis-py errors at the boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis import exceptions as redis_errors
from redis.backoff import NoBackoff
from redis.retry import Retry

from common.config import Settings
from common.errors import RedisUnavailable


def make_redis(settings: Settings, blocking_ms: int = 0) -> redis.Redis:
    """A client with short timeouts, so the API never hangs on a sick Redis.

    ``blocking_ms``: the longest BLOCK this client's commands use (the worker's
    XREADGROUP); the socket timeout is extended by it, or every idle read would
    time out. One immediate retry (a pooled connection may have gone stale across
    a Redis restart); no more: callers decide what to do next (spool, back off).
    """
    return redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_socket_timeout + blocking_ms / 1000,
        socket_connect_timeout=settings.redis_socket_timeout,
        health_check_interval=30,
        retry=Retry(NoBackoff(), 1),
    )


@contextmanager
def redis_errors_converted() -> Iterator[None]:
    """Turn any redis-py error into ``RedisUnavailable`` (at the adapter boundary)."""
    try:
        yield
    except redis_errors.RedisError as exc:
        raise RedisUnavailable(f"{type(exc).__name__}: {exc}") from None
