"""The whole path with real processes: gunicorn → Redis Stream → `manage.py worker` →
Elasticsearch, as `make run` starts them."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard
from elasticsearch import ApiError, Elasticsearch

from common.config import Settings, as_env
from tests.helpers import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent


def service_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment for a real API or worker process of this test."""
    return {
        **os.environ,
        **as_env(settings),
        "LOG_BLOCK_MS": "200",
        "WORKER_METRICS_PORT": "0",
        **extra,
    }


def post(url: str, payload: object) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _get(es: Elasticsearch, index: str, doc_id: str) -> dict | None:
    try:
        return dict(es.get(index=index, id=doc_id))
    except ApiError as error:  # 404 until indexed; 503 while a new index's shard starts
        if error.meta.status in (404, 503):
            return None
        raise


@pytest.fixture
def api(settings: Settings) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "-w", "2", "wsgi:app"],
        cwd=ROOT,
        env=service_env(settings),
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    wait_for(up, timeout=30)
    yield url
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


@pytest.fixture
def worker(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "manage.py", "worker"], cwd=ROOT, env=service_env(settings)
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_posted_log_is_found_in_elasticsearch_by_id(api, worker, es, settings):
    status, body = post(
        f"{api}/api/v1/logs",
        {
            "message": "card declined",
            "level": "Warning",
            "service": "checkout",
            "environment": "prod",
            "context": {"order_id": 42},
        },
    )
    assert status == 202 and body["status"] == "accepted"
    doc = wait_for(lambda: _get(es, settings.index_alias, body["id"]), timeout=30)
    source = doc["_source"]
    assert source["message"] == "card declined"
    assert source["log"]["level"] == "warn"
    assert source["service"] == {"name": "checkout", "environment": "prod"}
    assert source["context"] == {"order_id": 42}
    assert source["event"]["id"] == body["id"]


def test_a_log_sent_twice_with_the_same_id_is_stored_once(api, worker, es, settings):
    log = {"id": "retry-me-1", "message": "m", "level": "info", "service": "s"}
    log["timestamp"] = "2026-06-01T12:00:00Z"
    assert post(f"{api}/api/v1/logs", log)[0] == 202
    assert post(f"{api}/api/v1/logs", log)[0] == 202
    marker = {"message": "after", "level": "info", "service": "s"}
    marker["timestamp"] = log["timestamp"]
    _, after = post(f"{api}/api/v1/logs", marker)
    wait_for(lambda: _get(es, settings.index_alias, after["id"]), timeout=30)
    es.indices.refresh(index=settings.index_alias)
    assert (
        es.count(index=settings.index_alias, query={"ids": {"values": ["retry-me-1"]}})["count"]
        == 1
    )


def test_worker_stops_gracefully_on_sigterm(api, worker, es, settings):
    status, body = post(f"{api}/api/v1/logs", {"message": "m", "level": "info", "service": "s"})
    assert status == 202
    wait_for(lambda: _get(es, settings.index_alias, body["id"]), timeout=30)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0


def _ndjson(logs: list[dict]) -> bytes:
    return b"\n".join(json.dumps(log).encode() for log in logs)


def _array(logs: list[dict]) -> bytes:
    return json.dumps(logs).encode()


@pytest.mark.parametrize(
    ("content_type", "encoding", "encode", "compress"),
    [
        ("application/x-ndjson", "gzip", _ndjson, gzip.compress),
        ("application/json", "zstd", _array, zstandard.compress),
        ("application/json", "deflate", _array, zlib.compress),
    ],
)
def test_compressed_batches_are_indexed_whole(
    api, worker, es, settings, content_type, encoding, encode, compress
):
    logs = [
        {"id": f"batch-{n}", "message": f"m{n}", "level": "info", "service": "s"} for n in range(50)
    ]
    request = urllib.request.Request(
        f"{api}/api/v1/logs",
        data=compress(encode(logs)),
        headers={"Content-Type": content_type, "Content-Encoding": encoding},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
        assert json.loads(response.read())["accepted"] == 50

    def all_indexed() -> bool:
        alias = settings.index_alias
        es.options(ignore_status=404).indices.refresh(index=alias)
        return bool(es.options(ignore_status=404).count(index=alias).get("count") == 50)

    wait_for(all_indexed, timeout=30)
