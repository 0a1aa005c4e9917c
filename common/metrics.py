"""Prometheus metrics of the API and the worker, and the queue gauges read at scrape.

Counters and histograms are module-level, as prometheus_client expects. Under
gunicorn they run in multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by
gunicorn.conf.py), so a scrape of any process reports the totals of all of them.
Queue depths are not counted by anyone: they are read from Redis when scraped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from common.errors import TransientError
from common.spool import spool_size
from common.stream import LogStream

HTTP_REQUESTS = Counter(
    "stealthflow_http_requests_total", "HTTP requests answered.", ["route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "stealthflow_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
LOGS_ACCEPTED = Counter("stealthflow_logs_accepted_total", "Logs made durable by the API.")
LOGS_SPOOLED = Counter(
    "stealthflow_logs_spooled_total", "Logs the API wrote to the fallback spool."
)
LOGS_REJECTED = Counter(
    "stealthflow_logs_rejected_total", "Logs the API refused, by reason.", ["reason"]
)
INDEXED = Counter("stealthflow_worker_logs_indexed_total", "Logs stored in Elasticsearch.")
RETRIED = Counter(
    "stealthflow_worker_logs_retried_total", "Logs sent again after a transient failure."
)
DEAD_LETTERED = Counter(
    "stealthflow_worker_logs_dead_lettered_total",
    "Logs moved to the dead-letter stream, by error type.",
    ["error_type"],
)
BULK_LATENCY = Histogram(
    "stealthflow_worker_bulk_duration_seconds",
    "Time of one bulk request to Elasticsearch.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BATCH_SIZE = Histogram(
    "stealthflow_worker_batch_size",
    "Entries handled per batch.",
    buckets=(1, 5, 10, 25, 50, 100, 200, 500, 1000, 2000),
)


class QueueCollector(Collector):
    """Stream length, pending, backlog, DLQ length and spool size, read when scraped."""

    def __init__(self, stream: LogStream, fallback_dir: str) -> None:
        self.stream, self.fallback_dir = stream, fallback_dir

    def collect(self) -> Iterator[GaugeMetricFamily]:
        spool = spool_size(self.fallback_dir)
        yield GaugeMetricFamily(
            "stealthflow_spool_files", "Fallback spool files waiting.", value=spool["files"]
        )
        yield GaugeMetricFamily(
            "stealthflow_spool_bytes", "Bytes in the fallback spool.", value=spool["bytes"]
        )
        try:
            values = {
                "stream_length": self.stream.length(),
                "stream_pending": self.stream.pending_count(),
                "stream_backlog": self.stream.backlog(),
                "dlq_length": self.stream.dlq_length(),
            }
        except TransientError:
            yield GaugeMetricFamily("stealthflow_redis_up", "Whether Redis answered.", value=0)
            return
        yield GaugeMetricFamily("stealthflow_redis_up", "Whether Redis answered.", value=1)
        helps = {
            "stream_length": "Entries in the log stream.",
            "stream_pending": "Entries delivered to workers and not yet acknowledged.",
            "stream_backlog": "Entries the group has yet to finish (lag + pending).",
            "dlq_length": "Entries in the dead-letter stream.",
        }
        for name, value in values.items():
            yield GaugeMetricFamily(f"stealthflow_{name}", helps[name], value=value)


def render(stream: LogStream, fallback_dir: str, multiprocess_dir: str | None) -> bytes:
    """The text exposition: this process (or all gunicorn processes) plus the queue."""
    if multiprocess_dir and Path(multiprocess_dir).is_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)  # type: ignore[no-untyped-call]
        counted = generate_latest(registry)
    else:
        counted = generate_latest(REGISTRY)
    queue = CollectorRegistry()
    queue.register(QueueCollector(stream, fallback_dir))
    return counted + generate_latest(queue)
