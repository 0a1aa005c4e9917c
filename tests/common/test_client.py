"""``common.client.StealthflowHandler``: record → log (pure), then against the real
API (gunicorn), worker, Redis and Elasticsearch: delivery exactly once, 429
waited out with the same ids, 413 split, API key, API down, flush at exit."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from common.client import Reply, StealthflowHandler, level_name, parse_retry_after, record_to_log
from common.config import Settings
from common.schema import ID_PATTERN, normalize
from common.stream import LogStream
from tests import test_end_to_end
from tests.helpers import free_port, wait_for
from tests.test_end_to_end import ROOT

SERVICE = "client-test"
api = test_end_to_end.api  # the real gunicorn and worker, as fixtures of this module too
worker = test_end_to_end.worker


class RecordingHandler(StealthflowHandler):
    """Remembers each request it sends: the ids, the status, when."""

    def __init__(self, url: str, service: str, **options: Any) -> None:
        self.attempts: list[tuple[list[str], int, float]] = []
        super().__init__(url, service, **options)

    def _send(self, part: list[dict[str, Any]]) -> Reply:
        reply = super()._send(part)
        self.attempts.append(([log["id"] for log in part], reply.status, time.monotonic()))
        return reply


@pytest.fixture
def make_logger() -> Iterator[Callable[..., tuple[logging.Logger, RecordingHandler]]]:
    """A fresh logger (all levels) shipping through a RecordingHandler to ``url``."""
    made: list[tuple[logging.Logger, RecordingHandler]] = []

    def make(url: str, **options: Any) -> tuple[logging.Logger, RecordingHandler]:
        handler = RecordingHandler(url, SERVICE, **options)
        logger = logging.getLogger(f"client-test.{uuid.uuid4().hex}")
        logger.setLevel(1)
        logger.propagate = False
        logger.addHandler(handler)
        made.append((logger, handler))
        return logger, handler

    yield make
    for logger, handler in made:
        logger.removeHandler(handler)
        handler.close(timeout=1)


@pytest.fixture
def api_with(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Callable[..., str]:
    """The ``api`` fixture, started with these extra environment variables."""

    def start(**env: str) -> str:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        url: str = request.getfixturevalue("api")
        return url

    return start


def indexed(es: Elasticsearch, settings: Settings, count: int) -> list[dict[str, Any]] | None:
    """All documents of the test's alias once there are at least ``count``."""
    client = es.options(ignore_status=[404, 503])
    client.indices.refresh(index=settings.index_alias)
    found = client.search(index=settings.index_alias, size=count + 100)
    hits = found.get("hits", {}).get("hits", [])
    return [hit["_source"] for hit in hits] if len(hits) >= count else None


# Pure: record → log.


def make_record(level: int, message: str, *args: object, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("client-test.pure")
    return logger.makeRecord(logger.name, level, "f.py", 7, message, args, None, "fn", extra)


@pytest.mark.parametrize(
    ("levelno", "name"),
    [
        *[(1, "trace"), (5, "trace"), (10, "debug"), (15, "debug"), (20, "info")],
        *[(30, "warn"), (40, "error"), (50, "fatal"), (60, "fatal")],
    ],
)
def test_levels_map_to_the_contract(levelno: int, name: str) -> None:
    assert level_name(levelno) == name


def test_a_record_becomes_a_valid_log_with_its_extras_json_safe() -> None:
    record = make_record(
        logging.WARNING,
        "card %s declined",
        "4242",
        order={"id": 42, "when": object()},
        ratio=float("nan"),
        trace_id=123,
        span_id="s-1",
    )
    log = record_to_log(record, record.getMessage(), service="s", environment=None, host="h")
    assert ID_PATTERN.match(log["id"]) and log["timestamp"] == int(record.created * 1000)
    assert log["message"] == "card 4242 declined" and log["level"] == "warn"
    assert (log["service"], log["host"], "environment" in log) == ("s", "h", False)
    assert (log["trace_id"], log["span_id"]) == ("123", "s-1")
    context = log["context"]
    assert context["order"]["id"] == 42 and context["order"]["when"].startswith("<object")
    assert context["ratio"] == "nan" and "trace_id" not in context
    assert (context["logger"], context["function"], context["line"]) == (record.name, "fn", 7)
    json.dumps(log, allow_nan=False)  # what goes on the wire is strict JSON
    assert normalize(log)["id"] == log["id"]  # and passes the contract


def test_ids_are_unique_and_time_ordered() -> None:
    record = make_record(logging.INFO, "m")
    ids = [record_to_log(record, "m", service="s")["id"] for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert [log_id[:12] for log_id in ids] == sorted(log_id[:12] for log_id in ids)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        *[(None, None), ("", None), ("2", 2.0), ("0.5", 0.5), ("-3", 0.0), ("86400", 60.0)],
        *[("soon", None), ("nan", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
    ],
)
def test_retry_after_is_read_and_bounded(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


# Against the running API.


def test_logged_records_are_stored_once_with_level_context_and_exception(
    api, worker, es, settings, make_logger
) -> None:
    logger, handler = make_logger(api, environment="test", batch_size=100, flush_interval=0.2)
    levels = (5, logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)
    for n in range(249):
        extra = {"n": n, "order": {"id": n, "amount": 12.5}, "trace_id": f"trace-{n}"}
        logger.log(levels[n % 6], "order %d", n, extra=extra)
    try:
        raise ValueError("card declined")
    except ValueError:
        logger.exception("payment failed", extra={"n": 249})
    assert handler.flush(timeout=30)
    assert (handler.sent, handler.rejected, handler.dropped) == (250, 0, 0)

    docs = wait_for(lambda: indexed(es, settings, 250), timeout=30)
    assert sorted(doc["context"]["n"] for doc in docs) == list(range(250))
    assert {doc["event"]["id"] for doc in docs} == {i for ids, *_ in handler.attempts for i in ids}
    for doc in docs:
        n = doc["context"]["n"]
        assert doc["service"] == {"name": SERVICE, "environment": "test"}
        assert doc["host"] == {"name": socket.gethostname()}
        assert doc["context"]["logger"] == logger.name
        if n == 249:
            break_down = doc["context"]["exception"]
            assert doc["message"] == "payment failed" and doc["log"]["level"] == "error"
            assert (break_down["type"], break_down["message"]) == ("ValueError", "card declined")
            assert "Traceback" in break_down["stack"] and "Traceback" not in doc["message"]
            continue
        assert doc["message"] == f"order {n}"
        assert doc["log"]["level"] == level_name(levels[n % 6])
        assert doc["context"]["order"] == {"id": n, "amount": 12.5}
        assert doc["trace"] == {"id": f"trace-{n}"}


@pytest.fixture
def throttled_api(api_with: Callable[..., str], stream: LogStream) -> str:
    """An API already past its high-water mark: one entry, no worker, mark at 1."""
    canonical = normalize({"message": "backlog", "level": "info", "service": "backlog"})
    stream.append(canonical["id"], json.dumps(canonical).encode())
    return api_with(STREAM_HIGH_WATER="1", RETRY_AFTER="1")


def test_429_is_waited_out_and_the_same_ids_are_sent_again(
    throttled_api, request, es, settings, stream, make_logger
) -> None:
    logger, handler = make_logger(throttled_api, flush_interval=0.3)
    for n in range(30):
        logger.info("throttled %d", n, extra={"n": n})
    wait_for(lambda: handler.retried >= 2, timeout=10)
    assert stream.length() == 1  # nothing was accepted while behind
    request.getfixturevalue("worker")  # drains the backlog
    assert handler.flush(timeout=30)
    assert (handler.sent, handler.dropped) == (30, 0)

    batches = {ids[0]: ids for ids, *_ in handler.attempts}
    assert all(ids == batches[ids[0]] for ids, *_ in handler.attempts)  # retries: same ids
    statuses = [status for _, status, _ in handler.attempts]
    assert statuses[0] == 429 and statuses.count(202) == len(batches)
    for (_, status, sent_at), (*_, next_at) in pairwise(handler.attempts):
        assert status != 429 or next_at - sent_at >= 0.9  # Retry-After: 1
    docs = wait_for(lambda: indexed(es, settings, 31), timeout=30)
    mine = [doc["event"]["id"] for doc in docs if doc["service"]["name"] == SERVICE]
    assert sorted(mine) == sorted(i for ids in batches.values() for i in ids)


def test_a_batch_over_the_limit_is_split_and_invalid_logs_are_not_resent(
    api_with, worker, es, settings, make_logger
) -> None:
    url = api_with(LOG_MAX_BATCH="10", LOG_MAX_CONTEXT_DEPTH="3")
    logger, handler = make_logger(url, flush_interval=5)
    for n in range(49):
        logger.info("split %d", n, extra={"n": n})
    logger.info("too deep", extra={"deep": {"a": {"b": {"c": {"d": 1}}}}})
    assert handler.flush(timeout=30)
    assert (handler.sent, handler.rejected, handler.dropped) == (49, 1, 0)
    statuses = [status for _, status, _ in handler.attempts]
    assert statuses[0] == 413 and set(statuses) == {413, 202}
    assert max(len(ids) for ids, status, _ in handler.attempts if status == 202) <= 10
    docs = wait_for(lambda: indexed(es, settings, 49), timeout=30)
    assert sorted(doc["context"]["n"] for doc in docs) == list(range(49))


def test_the_api_key_is_sent_and_a_refused_key_is_not_retried(
    api_with, stream, make_logger
) -> None:
    url = api_with(API_KEYS="key-1")
    with_key, handler = make_logger(url, api_key="key-1")
    without_key, keyless = make_logger(url)
    with_key.info("with the key")
    without_key.info("without a key")
    assert handler.flush(timeout=10) and keyless.flush(timeout=10)
    assert (handler.sent, keyless.rejected, keyless.retried) == (1, 1, 0)
    assert [status for _, status, _ in keyless.attempts] == [401]
    assert stream.length() == 1


@pytest.mark.timeout(60)
def test_with_the_api_down_emit_never_blocks_and_every_log_is_accounted_for(
    make_logger,
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nobody listens
    logger, handler = make_logger(url, batch_size=100, max_queue=1000, flush_interval=0.05)
    for n in range(10_000):
        logger.info("burst %d", n)
    assert handler.dropped + handler.pending == 10_000  # queued or in flight, or dropped
    assert handler.dropped >= 10_000 - 1000 - 100
    assert not handler.flush(timeout=0.2)

    handler.close(timeout=1.0)  # returns: a hang here is caught by the test timeout
    assert (handler.sent, handler.dropped, handler.pending) == (0, 10_000, 0)
    logger.info("after close")  # neither raises nor blocks
    assert handler.dropped == 10_001


EXITING = """
import logging, sys
from common.client import StealthflowHandler

logger = logging.getLogger("exiting")
logger.setLevel(logging.INFO)
logger.addHandler(StealthflowHandler(sys.argv[1], "exit-test", flush_interval=60))
for n in range(20):
    logger.info("before exit %d", n, extra={"n": n})
"""


def run_exiting(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", EXITING, url], cwd=ROOT, capture_output=True, text=True, timeout=30
    )


def test_logs_are_flushed_when_the_interpreter_exits(api, worker, es, settings) -> None:
    done = run_exiting(api)
    assert (done.returncode, done.stderr) == (0, "")
    docs = wait_for(lambda: indexed(es, settings, 20), timeout=30)
    assert sorted(doc["context"]["n"] for doc in docs) == list(range(20))


def test_exit_is_not_held_up_for_long_when_the_api_is_down() -> None:
    done = run_exiting(f"http://127.0.0.1:{free_port()}")  # times out after 30 s
    assert done.returncode == 0
    assert "20 log(s) dropped (no delivery in time)" in done.stderr
