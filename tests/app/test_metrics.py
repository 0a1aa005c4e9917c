"""/metrics in one process, across gunicorn processes, and the worker's own."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import free_port, wait_for
from tests.test_end_to_end import ROOT, post, service_env

LOG = {"message": "m", "level": "info", "service": "s"}


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(text: str, name: str, **labels: str) -> float:
    return _samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_logs_requests_and_show_the_queue(client, stream):
    before = client.get("/metrics").get_data(as_text=True)
    client.post("/api/v1/logs", json=[LOG, LOG, {"level": "nope"}])
    client.post("/api/v1/logs", json=LOG)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    after = response.get_data(as_text=True)
    accepted = "stealthflow_logs_accepted_total"
    assert _value(after, accepted) - _value(before, accepted) == 3
    rejected = "stealthflow_logs_rejected_total"
    delta = _value(after, rejected, reason="validation_error") - _value(
        before, rejected, reason="validation_error"
    )
    assert delta == 1
    requests = "stealthflow_http_requests_total"
    labels = {"route": "/api/v1/logs", "method": "POST", "status": "202"}
    assert _value(after, requests, **labels) - _value(before, requests, **labels) == 2
    assert _value(after, "stealthflow_stream_length") == 3
    assert _value(after, "stealthflow_redis_up") == 1
    assert re.search(r"^stealthflow_http_request_duration_seconds_bucket", after, re.M)


def test_gunicorn_processes_report_one_total(settings):
    port = free_port()
    api = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "-w", "3", "wsgi:app"],
        cwd=ROOT,
        env=service_env(settings),
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _get(f"{url}/health"), timeout=30)
        for _ in range(30):
            assert post(f"{url}/api/v1/logs", LOG)[0] == 202
        scrapes = [_get(f"{url}/metrics") or "" for _ in range(6)]
        totals = {_value(text, "stealthflow_logs_accepted_total") for text in scrapes}
        assert totals == {30.0}  # whichever process answers the scrape
    finally:
        api.terminate()
        api.wait(timeout=30)


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())
    except OSError:
        return None


def test_worker_serves_its_own_metrics(settings, stream):
    port = free_port()
    env = service_env(settings) | {"WORKER_METRICS_PORT": str(port)}
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "worker"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL
    )
    try:
        import orjson

        from common.schema import normalize

        for _ in range(5):
            log = normalize(LOG)
            stream.append(log["id"], orjson.dumps(log))

        def indexed() -> bool:
            text = _get(f"http://127.0.0.1:{port}/metrics")
            return bool(text) and _value(text or "", "stealthflow_worker_logs_indexed_total") == 5

        wait_for(indexed, timeout=30)
        text = _get(f"http://127.0.0.1:{port}/metrics") or ""
        assert _value(text, "stealthflow_worker_bulk_duration_seconds_count") >= 1
    finally:
        worker.terminate()
        worker.wait(timeout=30)
