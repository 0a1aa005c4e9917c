"""/health and /health/detailed against real services, and a real stopped Redis."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

import pytest
import redis

from common.config import Settings
from tests.helpers import free_port, wait_for


def test_health_is_always_200(client):
    assert client.get("/health").get_json() == {"status": "ok"}


def test_detailed_reports_dependencies_and_queue_depths(client, stream):
    stream.append("one", b"{}")
    body = client.get("/health/detailed")
    assert body.status_code == 200
    data = body.get_json()
    assert data["status"] == "ok"
    assert data["redis"]["status"] == "ok" and data["redis"]["latency_ms"] >= 0
    assert data["elasticsearch"]["status"] == "ok"
    assert data["elasticsearch"]["cluster_status"] in ("green", "yellow")
    assert data["stream"] == {"length": 1, "pending": 0, "backlog": 1}
    assert data["recent"] == {"window_s": 300, "indexed": 0, "dead_lettered": 0}
    assert data["dlq"] == {"length": 0}
    assert data["spool"] == {"fallback": False, "files": 0, "bytes": 0}


def test_detailed_is_503_when_elasticsearch_is_down(make_app, settings: Settings):
    down = settings.with_overrides(elasticsearch_url=f"http://127.0.0.1:{free_port()}")
    response = make_app(down).test_client().get("/health/detailed")
    assert response.status_code == 503
    data = response.get_json()
    assert data["status"] == "unavailable"
    assert data["elasticsearch"]["status"] == "unavailable"
    assert data["redis"]["status"] == "ok"


@pytest.fixture
def own_redis():
    """A real redis-server of our own, so the test can stop it."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed (scripts/services.sh installs it)"
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="sftest-redis-")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", workdir],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    wait_for(lambda: _pings(client), timeout=10)
    yield process, f"redis://127.0.0.1:{port}/0"
    process.kill()
    process.wait()
    shutil.rmtree(workdir, ignore_errors=True)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def test_detailed_is_503_after_redis_stops(make_app, settings: Settings, own_redis):
    process, url = own_redis
    client = make_app(settings.with_overrides(redis_url=url)).test_client()
    assert client.get("/health/detailed").status_code == 200
    process.terminate()
    process.wait(timeout=10)
    response = client.get("/health/detailed")
    assert response.status_code == 503
    data = response.get_json()
    assert data["redis"]["status"] == "unavailable"
    assert data["elasticsearch"]["status"] == "ok"
    assert client.get("/health").status_code == 200


def _outcomes(stream, indexed: int, dead: int) -> None:
    import time

    minute = int(time.time() // 60)
    stream.client.incrby(stream.outcome_key("indexed", minute), indexed)
    stream.client.incrby(stream.outcome_key("dead", minute), dead)


@pytest.mark.parametrize(
    ("overrides", "indexed", "dead", "reason"),
    [
        ({"health_max_backlog": 1}, 0, 0, "backlog"),
        ({"health_max_dlq_growth": 3}, 100, 3, "dead-lettered"),
        ({"health_max_error_rate": 0.1}, 80, 20, "error rate"),
    ],
)
def test_detailed_is_degraded_past_a_threshold(
    make_app, settings: Settings, stream, overrides, indexed, dead, reason
):
    stream.append("one", b"{}")
    _outcomes(stream, indexed, dead)
    response = make_app(settings.with_overrides(**overrides)).test_client().get("/health/detailed")
    assert response.status_code == 200
    data = response.get_json()
    assert data["status"] == "degraded"
    assert any(reason in text for text in data["reasons"])


def test_few_errors_over_few_logs_are_not_a_rate(make_app, settings: Settings, stream):
    _outcomes(stream, 2, 2)
    data = make_app(settings).test_client().get("/health/detailed").get_json()
    assert data["status"] == "ok"


def test_the_worker_counts_outcomes_for_health(stream, es, settings):
    import orjson

    from common.elastic import install_index_template
    from common.schema import normalize
    from worker.consumer import Consumer

    stream.ensure_group()
    install_index_template(es, settings)
    for _ in range(3):
        log = normalize({"message": "m", "level": "info", "service": "s"})
        stream.append(log["id"], orjson.dumps(log))
    stream.client.xadd(stream.key, {"id": "bad", "data": b"nope"})
    Consumer(stream, es, settings).run_once()
    assert stream.recent_outcomes(300) == {"indexed": 3, "dead_lettered": 1}
