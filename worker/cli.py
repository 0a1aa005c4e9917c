"""``worker`` command: run one consumer of the group until SIGTERM/SIGINT.

First signal: stop reading, finish and acknowledge the in-flight batch, exit 0.
Second signal: exit at once; whatever was not acknowledged is delivered again.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

import click
from prometheus_client import start_http_server

from common.config import Settings, load_settings
from common.elastic import make_elasticsearch
from common.logging import configure_logging
from common.redis_client import make_redis
from common.stream import LogStream
from worker.consumer import Consumer

log = logging.getLogger("stealthflow.worker")


def install_signal_handlers(stop: threading.Event) -> None:
    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            log.warning("second signal: exiting now; unacknowledged entries will be redelivered")
            os._exit(1)
        log.info("signal %s: finishing the current batch, then exiting", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def serve_metrics(port: int) -> None:
    """The worker's own /metrics; a taken port costs the metrics, never the worker."""
    if port <= 0:
        return
    try:
        start_http_server(port)
    except OSError as exc:
        log.warning("metrics not served on port %d: %s", port, exc)
        return
    log.info("metrics on :%d/metrics", port)


def run_worker(settings: Settings, stop: threading.Event) -> list[Consumer]:
    """``WORKER_THREADS`` consumers of the group in this process, sharing its clients.

    Each is the same simple loop under its own consumer name; while one waits for
    Elasticsearch to answer a bulk request, another reads and prepares the next
    batch, so Elasticsearch is never idle waiting for this worker. Only the first
    does the housekeeping. The calling (main) thread runs the first, so signals
    reach it; the others stop on the same ``stop``.
    """
    stream = LogStream(make_redis(settings, blocking_ms=settings.block_ms), settings)
    es = make_elasticsearch(settings)
    names = [settings.consumer_name]
    names += [f"{settings.consumer_name}-{n}" for n in range(1, settings.worker_threads)]
    consumers = [
        Consumer(stream, es, settings.with_overrides(consumer_name=name), housekeeping=n == 0)
        for n, name in enumerate(names)
    ]
    log.info(
        "worker %s (%d consumer threads) reading %s (group %s) into %s",
        settings.consumer_name,
        len(consumers),
        settings.stream_key,
        settings.consumer_group,
        settings.index_alias,
    )
    others = [
        threading.Thread(target=consumer.run, args=(stop,), name=consumer.name, daemon=True)
        for consumer in consumers[1:]
    ]
    for thread in others:
        thread.start()
    consumers[0].run(stop)
    for thread in others:
        thread.join()
    indexed = sum(consumer.indexed for consumer in consumers)
    log.info("worker %s stopped after indexing %d logs", settings.consumer_name, indexed)
    return consumers


@click.command("worker")
@click.option("--batch-size", type=click.IntRange(min=1), help="Entries per read (LOG_BATCH_SIZE).")
@click.option("--name", help="Consumer name (WORKER_NAME); unique per process by default.")
def worker_command(batch_size: int | None, name: str | None) -> None:
    """Consume the log stream into Elasticsearch until stopped."""
    settings = load_settings()
    if batch_size:
        settings = settings.with_overrides(batch_size=batch_size)
    if name:
        settings = settings.with_overrides(consumer_name=name)
    configure_logging(settings.log_level)
    stop = threading.Event()
    install_signal_handlers(stop)
    serve_metrics(settings.worker_metrics_port)
    run_worker(settings, stop)


def main() -> None:
    worker_command()
