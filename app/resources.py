"""Per-process connections for the app.

Nothing connects at import or in ``create_app``: the Redis pool and the
Elasticsearch client are made on first use in the process that uses them, and
made again if the process has forked since.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass, field

import redis
from elasticsearch import Elasticsearch
from flask import current_app

from app.intake import Backpressure
from common.config import Settings
from common.elastic import make_elasticsearch
from common.limits import Limits
from common.redis_client import make_redis
from common.spool import SpoolWriter
from common.stream import LogStream


@dataclass
class Resources:
    settings: Settings
    _pid: int = -1
    _redis: redis.Redis | None = None
    _es: Elasticsearch | None = None
    _spool: SpoolWriter | None = None
    _stream: LogStream | None = None
    _backpressure: Backpressure | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _check_process(self) -> None:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._redis, self._es, self._spool, self._stream = None, None, None, None
                    self._backpressure = None
                    self._pid = os.getpid()

    @property
    def redis(self) -> redis.Redis:
        self._check_process()
        if self._redis is None:
            self._redis = make_redis(self.settings)
        return self._redis

    @property
    def elasticsearch(self) -> Elasticsearch:
        self._check_process()
        if self._es is None:
            self._es = make_elasticsearch(self.settings)
        return self._es

    @property
    def spool(self) -> SpoolWriter:
        self._check_process()
        if self._spool is None:
            settings = self.settings
            self._spool = SpoolWriter(
                settings.fallback_dir,
                settings.spool_max_bytes,
                settings.spool_max_age_s,
                settings.spool_idle_close_s,
            )
        return self._spool

    @property
    def backpressure(self) -> Backpressure:
        self._check_process()
        if self._backpressure is None:
            self._backpressure = Backpressure(self.settings.stream_high_water)
        return self._backpressure

    def close(self) -> None:
        """Release the spool file and connections (tests; process exit does it too)."""
        if self._spool is not None:
            self._spool.close()
        if self._redis is not None:
            self._redis.close()
        if self._es is not None:
            self._es.close()
        self._redis = self._es = self._spool = self._stream = None

    @functools.cached_property
    def limits(self) -> Limits:
        """Per-log limits, derived once from the settings."""
        return Limits.from_settings(self.settings)

    @property
    def stream(self) -> LogStream:
        self._check_process()
        if self._stream is None:
            self._stream = LogStream(self.redis, self.settings)
        return self._stream


def resources() -> Resources:
    found: Resources = current_app.extensions["stealthflow"]
    return found
