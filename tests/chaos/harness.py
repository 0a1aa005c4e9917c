"""A ledger-based chaos harness on real processes and real services.

The harness sends logs with known ids through the real API (gunicorn), runs real
`manage.py worker` processes, breaks things (SIGKILL a worker, stop Redis, stop
Elasticsearch), and then checks Elasticsearch against the ledger: every accepted
id present exactly once, nothing else, and the DLQ holding exactly the poison.
Every loop is bounded in count and time; all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from elasticsearch import Elasticsearch

from common.config import Settings
from tests.helpers import free_port, wait_for
from tests.test_end_to_end import service_env as test_service_env

ROOT = Path(__file__).resolve().parents[2]


def service_env(settings: Settings, **extra: str) -> dict[str, str]:
    return test_service_env(settings, LOG_LEVEL="WARNING", **extra)


class RedisServer:
    """A real redis-server of the test's own (AOF, everysec) that it may stop and start."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server") or "redis-server"
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="sftest-chaos-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                self.dir,
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        wait_for(lambda: _pings(client), timeout=15)
        client.close()

    def stop(self) -> None:
        """A clean shutdown (SIGTERM: Redis flushes its AOF first)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)

    def cleanup(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


class Processes:
    """The API and workers as real processes, started and killed at will."""

    def __init__(self, settings: Settings, **env: str) -> None:
        self.env = service_env(settings, **env)
        self.api: subprocess.Popen[bytes] | None = None
        self.api_port = free_port()
        self.workers: list[subprocess.Popen[bytes]] = []

    def start_api(self) -> None:
        self.api = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{self.api_port}",
                "-w",
                "2",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=self.env,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._api_up, timeout=30)

    def _api_up(self) -> bool:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=2)
            connection.request("GET", "/health")
            return connection.getresponse().status == 200
        except OSError:
            return False

    def start_worker(self) -> subprocess.Popen[bytes]:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "worker"],
            cwd=ROOT,
            env=self.env,
            stderr=subprocess.DEVNULL,
        )
        self.workers.append(worker)
        return worker

    def kill_worker(self, worker: subprocess.Popen[bytes]) -> None:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        self.workers.remove(worker)

    def run_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def stop_all(self) -> None:
        for process in [*self.workers, *([self.api] if self.api else [])]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.workers, *([self.api] if self.api else [])]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class Ledger:
    """What was sent and what the API answered, per id."""

    sent: int = 0
    accepted: set[str] = field(default_factory=set)
    spooled: set[str] = field(default_factory=set)
    refused: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, log_id: str, status: int, body: dict[str, Any]) -> None:
        with self.lock:
            if status == 202:
                self.accepted.add(log_id)
                if body.get("spooled"):
                    self.spooled.add(log_id)
            else:
                self.refused[status] = self.refused.get(status, 0) + 1


def make_log(run: str, number: int, rng: random.Random, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"{run}-{number:06d}",
        "timestamp": "2026-12-04T12:00:00.000Z",
        "level": rng.choice(["debug", "info", "warn", "error"]),
        "service": rng.choice(["checkout", "search", "auth"]),
        "message": f"chaos log {number} " + "x" * rng.randint(0, 200),
        "context": {"n": number, "user": {"id": rng.randint(1, 1000)}},
        **extra,
    }


class Sender:
    """Sends logs from a few keep-alive connections; a 503 or a connection error is
    retried with the same id (as a good client does), a bounded number of times."""

    def __init__(self, port: int, ledger: Ledger, threads: int = 4, retries: int = 100) -> None:
        self.port, self.ledger, self.threads, self.retries = port, ledger, threads, retries

    def send_all(self, logs: list[dict[str, Any]], on_progress: Callable[[int], None]) -> None:
        chunks = [logs[i :: self.threads] for i in range(self.threads)]
        done = [0]
        lock = threading.Lock()

        def progress() -> None:
            with lock:
                done[0] += 1
                on_progress(done[0])

        workers = [
            threading.Thread(target=self._send_chunk, args=(chunk, progress)) for chunk in chunks
        ]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join(timeout=300)

    def _send_chunk(self, logs: list[dict[str, Any]], progress: Callable[[], None]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        for log in logs:
            with self.ledger.lock:
                self.ledger.sent += 1
            for _attempt in range(self.retries):
                try:
                    connection.request(
                        "POST",
                        "/api/v1/logs",
                        body=json.dumps(log),
                        headers={"Content-Type": "application/json"},
                    )
                    response = connection.getresponse()
                    body = json.loads(response.read() or b"{}")
                except (OSError, http.client.HTTPException):
                    connection.close()
                    time.sleep(0.05)
                    continue
                if response.status == 503:
                    time.sleep(0.05)
                    continue
                self.ledger.record(log["id"], response.status, body)
                break
            progress()
        connection.close()


@dataclass
class Verdict:
    indexed: int
    duplicates: int
    missing: list[str]
    unexpected: list[str]
    dlq_ids: list[str]


def _ids_in(es: Elasticsearch, alias: str) -> Iterator[str]:
    """Every document id under the alias (search_after on _id... via a sorted scan)."""
    after: list[Any] | None = None
    while True:
        kwargs: dict[str, Any] = {"size": 5000, "sort": [{"event.id": "asc"}], "source": False}
        if after:
            kwargs["search_after"] = after
        hits = es.search(index=alias, query={"match_all": {}}, **kwargs)["hits"]["hits"]
        if not hits:
            return
        for hit in hits:
            yield hit["_id"]
        after = hits[-1]["sort"]


def verify(
    es: Elasticsearch,
    client: redis.Redis,
    settings: Settings,
    expected: set[str],
    timeout: float = 180.0,
) -> Verdict:
    """Wait (bounded) until Elasticsearch holds the expected count, then compare."""
    alias = settings.index_alias

    def count() -> int:
        try:
            es.indices.refresh(index=alias)
            return int(es.count(index=alias)["count"])
        except Exception:
            return -1

    deadline = time.monotonic() + timeout
    while count() < len(expected) and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(1.0)  # anything extra still in flight shows up now
    found = list(_ids_in(es, alias))
    unique = set(found)
    dlq_ids = [
        fields.get(b"id", b"").decode() for _entry_id, fields in client.xrange(settings.dlq_key)
    ]
    return Verdict(
        indexed=len(found),
        duplicates=len(found) - len(unique),
        missing=sorted(expected - unique),
        unexpected=sorted(unique - expected),
        dlq_ids=dlq_ids,
    )


class ElasticsearchNode:
    """A real Elasticsearch node of the test's own, started and stopped with
    ``scripts/services.sh es-up|es-down`` as a separate instance (own ports, data)."""

    def __init__(self, instance: str = "chaos") -> None:
        self.http_port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "ELASTICSEARCH_URL"},
            "ES_INSTANCE": instance,
            "ES_HTTP_PORT": str(self.http_port),
            "ES_TRANSPORT_PORT": str(free_port()),
        }
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.client = Elasticsearch(self.url, request_timeout=30)

    def _services(self, command: str) -> None:
        subprocess.run(
            [str(ROOT / "scripts" / "services.sh"), command],
            env=self.env,
            check=True,
            timeout=300,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> None:
        self._services("es-up")

    def stop(self) -> None:
        self._services("es-down")

    def cleanup(self) -> None:
        self.client.close()
        self.stop()
