"""The measurements, one method per phase, each on names of its own.

Elasticsearch phases (ceiling, end to end, drain) index the same documents into
indices prepared by ``probes`` (real template, refresh off); each clock stops once a
``_refresh`` + ``_count`` finds all N, so the three pay the same final refresh. The
worker phases know the workers are done when the group has nothing pending and was
handed the stream's last entry (asked of Redis, cheaply), then refresh and count.
Nothing here parses an HTTP reply: Redis and Elasticsearch are asked what arrived.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import redis
from elasticsearch import Elasticsearch

from bench import workload
from bench.harness import BenchError, Processes, phase_settings, wait_until
from bench.load import LoadResult, Request, combine, run_load
from bench.memory import RssSampler
from bench.probes import (
    consumers,
    group_done,
    prepare_indices,
    restore_refresh,
    wait_searchable,
)
from common.config import Settings
from common.elastic import bulk
from common.schema import format_timestamp, normalize
from common.stream import LogStream, StreamEntry
from worker.batch import Decoded, bulk_body

LOGS_PATH = "/api/v1/logs"


@dataclass(frozen=True)
class Options:
    batch: int = 500  # logs per HTTP request
    workers: int = 1  # `manage.py worker` processes (and ceiling client threads)
    clients: int = 8  # concurrent HTTP clients
    single_requests: int = 5000
    api_workers: int | None = None  # gunicorn workers; None: gunicorn.conf.py decides
    timeout: float = 600.0  # seconds, per phase
    seed: int = 42


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class Bench:
    def __init__(
        self,
        base: Settings,
        run: str,
        folder: Path,
        es: Elasticsearch,
        client: redis.Redis,
        sampler: RssSampler,
        options: Options,
        count: int,
    ) -> None:
        self.base, self.run, self.folder = base, run, folder
        self.es, self.redis, self.sampler, self.options = es, client, sampler, options
        self.client_logs = workload.logs(count, options.seed)
        self.canonical = [normalize(log) for log in self.client_logs]
        self.timestamps = {log["timestamp"] for log in self.canonical}

    def settings(self, phase: str) -> Settings:
        return phase_settings(self.base, self.run, phase, self.folder / "fallback")

    def processes(self, settings: Settings) -> Processes:
        return Processes(settings, self.folder, api_workers=self.options.api_workers)

    def es_ceiling(self, phase: str = "ceiling") -> Rate:
        """The same documents, bulk-indexed directly in batches of LOG_BATCH_SIZE (one
        client thread per worker)."""
        settings = self.settings(phase)
        names = prepare_indices(self.es, settings, self.timestamps)
        ingested = format_timestamp(datetime.now(UTC))
        decoded = [Decoded(StreamEntry("", {}), log) for log in self.canonical]
        bodies = [
            bulk_body(chunk, settings.index_alias, ingested)
            for chunk in _chunks(decoded, settings.batch_size)
        ]
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=self.options.workers) as pool:
            for items in pool.map(lambda body: bulk(self.es, body), bodies):
                refused = [item for item in items if item.get("status") not in (200, 201)]
                if refused:
                    raise BenchError(f"Elasticsearch refused {len(refused)}: {refused[0]}")
        self._searchable(settings, time.monotonic() + self.options.timeout)
        seconds = time.perf_counter() - started
        restore_refresh(self.es, settings, names)
        return Rate(len(decoded), seconds)

    # ---- the pipeline
    def _wait_indexed(self, settings: Settings, processes: Processes, deadline: float) -> None:
        def done() -> bool:
            processes.check_alive()
            return group_done(self.redis, settings)

        wait_until(done, deadline - time.monotonic(), "workers draining the stream", 0.02)
        self._searchable(settings, deadline)

    def _searchable(self, settings: Settings, deadline: float) -> None:
        wait_searchable(self.es, settings.index_alias, len(self.canonical), deadline)

    def _joined(self, settings: Settings, processes: Processes, count: int) -> bool:
        processes.check_alive()
        return consumers(self.redis, settings) >= count

    def batch_requests(self) -> list[Request]:
        return [
            Request("POST", LOGS_PATH, orjson.dumps(chunk))
            for chunk in _chunks(self.client_logs, self.options.batch)
        ]

    def end_to_end(self) -> Rate:
        """HTTP batches → gunicorn → stream → worker(s) → searchable."""
        settings = self.settings("e2e")
        names = prepare_indices(self.es, settings, self.timestamps)
        processes = self.processes(settings)
        requests = self.batch_requests()
        try:
            processes.start_api()
            processes.start_workers(self.options.workers)
            ready = partial(self._joined, settings, processes, self.options.workers)
            wait_until(ready, 60, "workers ready")
            self.sampler.watch("worker, end to end", processes.worker_pids)
            self.sampler.watch("gunicorn, end to end", processes.api_pids)
            started = time.perf_counter()
            deadline = time.monotonic() + self.options.timeout
            run_load(
                processes.api_port, requests, self.options.clients, timeout=self.options.timeout
            )
            self._wait_indexed(settings, processes, deadline)
            seconds = time.perf_counter() - started
        finally:
            self.sampler.sample()
            self.sampler.unwatch("worker, end to end")
            self.sampler.unwatch("gunicorn, end to end")
            processes.stop()
        restore_refresh(self.es, settings, names)
        return Rate(len(self.canonical), seconds)

    def drain(self) -> Rate:
        """A stream pre-filled with N entries → worker(s) → searchable. The clock starts
        when the first worker joins the group (its start-up and imports excluded)."""
        settings = self.settings("drain")
        names = prepare_indices(self.es, settings, self.timestamps)
        stream = LogStream(self.redis, settings)
        for chunk in _chunks(self.canonical, 1000):
            stream.append_many([(log["id"], orjson.dumps(log)) for log in chunk])
        processes = self.processes(settings)
        try:
            processes.start_workers(self.options.workers)
            self.sampler.watch("worker, drain", processes.worker_pids)
            wait_until(partial(self._joined, settings, processes, 1), 60, "a worker joining", 0.005)
            started = time.perf_counter()
            self._wait_indexed(settings, processes, time.monotonic() + self.options.timeout)
            seconds = time.perf_counter() - started
        finally:
            self.sampler.sample()
            self.sampler.unwatch("worker, drain")
            processes.stop()
        restore_refresh(self.es, settings, names)
        return Rate(len(self.canonical), seconds)

    # ---- the API alone, and Redis
    def api_phases(self) -> tuple[Rate, LoadResult, LoadResult]:
        """HTTP batches → stream, no worker; then single-log POSTs and GET /health on
        the same gunicorn, alternating in two rounds so that noise from the rest of
        the machine falls on both. Returns (batches, single logs, health)."""
        settings = self.settings("api")
        processes = self.processes(settings)
        clients, timeout, count = self.options.clients, self.options.timeout, len(self.client_logs)
        singles = [
            Request("POST", LOGS_PATH, orjson.dumps(log))
            for log in workload.logs(self.options.single_requests, self.options.seed + 1)
        ]
        half = (len(singles) + 1) // 2
        health = [Request("GET", "/health")] * half
        single_rounds, health_rounds = [], []
        try:
            processes.start_api()
            self.sampler.watch("gunicorn, API alone + single", processes.api_pids)
            port = processes.api_port
            batches = run_load(port, self.batch_requests(), clients, timeout=timeout)
            arrived = int(self.redis.xlen(settings.stream_key))
            if arrived != count:
                raise BenchError(f"stream holds {arrived} of {count} logs")
            run_load(port, health[: 4 * clients], clients, expect=200)  # warm-up
            run_load(port, singles[: 4 * clients], clients)
            for part in (singles[:half], singles[half:]):
                health_rounds.append(run_load(port, health, clients, expect=200, timeout=timeout))
                single_rounds.append(run_load(port, part, clients, timeout=timeout))
        finally:
            self.sampler.sample()
            self.sampler.unwatch("gunicorn, API alone + single")
            processes.stop()
        return Rate(count, batches.seconds), combine(single_rounds), combine(health_rounds)

    def redis_ceiling(self) -> Rate:
        """The entries the API writes, XADDed with one pipelined client, a batch per round trip
        (plain redis-py pipelining, whatever the API itself uses)."""
        key = LogStream(self.redis, self.settings("redis")).key
        chunks = [
            [(log["id"], orjson.dumps(log)) for log in chunk]
            for chunk in _chunks(self.canonical, self.options.batch)
        ]
        started = time.perf_counter()
        for records in chunks:
            pipe = self.redis.pipeline(transaction=False)
            for log_id, data in records:
                pipe.xadd(key, {"id": log_id, "data": data})
            pipe.execute()
        return Rate(len(self.canonical), time.perf_counter() - started)
