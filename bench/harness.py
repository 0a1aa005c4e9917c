"""Process control for the benchmark: isolated settings, gunicorn and workers, clean-up.

Every run gets names of its own: Redis database 14 of the configured server, key
prefix ``bench:<run>:<phase>:``, index prefix ``sfbench`` and environment
``<run>-<phase>``, so a run never touches the data of ``make run`` (database 0) or
of the tests (database 15, ``sftest``), and ``cleanup`` removes exactly what the
run made. The API runs under the project's ``gunicorn.conf.py`` (bound to
127.0.0.1), workers as ``manage.py worker``; their stderr goes to files in the
run's folder. Every wait is bounded.
"""

from __future__ import annotations

import http.client
import os
import runpy
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis
from elasticsearch import Elasticsearch

from bench.memory import children_of
from common.config import Settings, as_env

ROOT = Path(__file__).resolve().parent.parent
BENCH_REDIS_DB = 14
BENCH_INDEX_PREFIX = "sfbench"


class BenchError(RuntimeError):
    """The benchmark could not measure what it set out to (a process died, a wait ran out)."""


def wait_until(
    probe: Callable[[], object], timeout: float, what: str, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise BenchError(f"{what}: not done within {timeout:.0f}s")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_redis_url(url: str) -> str:
    """The same server, database 14."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{BENCH_REDIS_DB}"))


def phase_settings(base: Settings, run: str, phase: str, fallback_dir: Path) -> Settings:
    return base.with_overrides(
        redis_url=bench_redis_url(base.redis_url),
        key_prefix=f"bench:{run}:{phase}:",
        index_prefix=BENCH_INDEX_PREFIX,
        environment=f"{run}-{phase}",
        fallback_dir=str(fallback_dir),
    )


def service_env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        **as_env(settings),
        "LOG_BATCH_SIZE": str(settings.batch_size),
        # No metrics listener: it would bind every interface and collide between workers.
        "WORKER_METRICS_PORT": "0",
        # The API-alone phase fills the stream with no worker on purpose; the backlog
        # must not reach the high-water mark (429) before the run ends. The check
        # itself still runs, so its cost is measured.
        "STREAM_HIGH_WATER": str(10**9),
        **extra,
    }


@dataclass
class Processes:
    """The API and workers of one phase, as real processes."""

    settings: Settings
    logs_dir: Path
    api_workers: int | None = None
    api_port: int = field(default_factory=free_port)
    api: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def _spawn(self, name: str, args: list[str], **env: str) -> subprocess.Popen[bytes]:
        with open(self.logs_dir / f"{self.settings.environment}-{name}.log", "ab") as stderr:
            return subprocess.Popen(
                [sys.executable, *args],
                cwd=ROOT,
                env=service_env(self.settings, **env),
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

    def start_api(self, timeout: float = 60.0) -> None:
        """gunicorn with the project's gunicorn.conf.py; returns once every worker answers."""
        env = {"WEB_CONCURRENCY": str(self.api_workers)} if self.api_workers else {}
        args = ["-m", "gunicorn", "--bind", f"127.0.0.1:{self.api_port}", "wsgi:app"]
        self.api = self._spawn("gunicorn", args, **env)
        expected = gunicorn_config(self.api_workers).workers
        wait_until(self._api_up, timeout, "gunicorn answering /health")
        wait_until(lambda: len(self.api_pids()) >= expected, timeout, "gunicorn workers")

    def _api_up(self) -> bool:
        if self.api is not None and self.api.poll() is not None:
            raise BenchError(f"gunicorn exited with {self.api.returncode}; see {self.logs_dir}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=2)
            connection.request("GET", "/health")
            ok = connection.getresponse().status == 200
            connection.close()
            return ok
        except OSError:
            return False

    def api_pids(self) -> list[int]:
        """The gunicorn worker processes (children of the master)."""
        return children_of(self.api.pid) if self.api else []

    def start_workers(self, count: int) -> None:
        for number in range(count):
            name = f"bench-{self.settings.environment}-{number}"
            self.workers.append(
                self._spawn(f"worker{number}", ["manage.py", "worker"], WORKER_NAME=name)
            )

    def worker_pids(self) -> list[int]:
        return [worker.pid for worker in self.workers if worker.poll() is None]

    def check_alive(self) -> None:
        for process in [*self.workers, *([self.api] if self.api else [])]:
            if process.poll() is not None:
                raise BenchError(
                    f"pid {process.pid} exited with {process.returncode}; see {self.logs_dir}"
                )

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL after 30 s; only the processes started here."""
        started = [*self.workers, *([self.api] if self.api else [])]
        for process in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.workers, self.api = [], None


@dataclass(frozen=True)
class GunicornConfig:
    workers: int
    worker_class: str


def gunicorn_config(workers: int | None = None) -> GunicornConfig:
    """What gunicorn.conf.py sets (it reads PORT and WEB_CONCURRENCY itself)."""
    values = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    return GunicornConfig(workers or int(values["workers"]), str(values["worker_class"]))


def cleanup(es: Elasticsearch, client: redis.Redis, run: str) -> None:
    """Delete the run's indices, templates and Redis keys (by the run's own names)."""
    pattern = f"{BENCH_INDEX_PREFIX}_{run}-*"
    names = list(es.options(ignore_status=404).indices.get(index=pattern, expand_wildcards="all"))
    if names:
        es.indices.delete(index=",".join(names), ignore_unavailable=True)
    templates = es.options(ignore_status=404).indices.get_index_template(name=pattern)
    for template in templates.get("index_templates", []):
        es.indices.delete_index_template(name=template["name"])
    for keys in _chunks(client.scan_iter(match=f"bench:{run}:*", count=1000), 500):
        client.delete(*keys)


def _chunks(items: Iterator[bytes], size: int) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
