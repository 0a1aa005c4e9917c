"""Chaos scenarios: whatever fails, every accepted log is in Elasticsearch exactly once.

Each scenario sends CHAOS_LOGS logs with known ids through the real API, breaks
something while they flow, and checks Elasticsearch against the ledger.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from typing import Any

import orjson
import redis

from common.config import Settings
from common.schema import normalize
from tests.chaos.conftest import CHAOS_LOGS, ROWS
from tests.chaos.harness import Ledger, Processes, RedisServer, Sender, make_log, verify


def _send_in_background(
    processes: Processes, logs: list[dict[str, Any]], ledger: Ledger
) -> threading.Thread:
    sender = Sender(processes.api_port, ledger)
    thread = threading.Thread(target=sender.send_all, args=(logs, lambda _n: None))
    thread.start()
    return thread


def _wait_until_a_third_is_sent(ledger: Ledger, timeout: float = 60.0) -> None:
    """Mid-load: the moment to break something."""
    deadline = time.monotonic() + timeout
    while ledger.sent < CHAOS_LOGS // 3 and time.monotonic() < deadline:
        time.sleep(0.05)


def _record(name: str, ledger: Ledger, verdict: Any) -> None:
    ROWS.append(
        {
            "scenario": name,
            "sent": ledger.sent,
            "accepted": len(ledger.accepted),
            "spooled": len(ledger.spooled),
            "indexed": verdict.indexed,
            "duplicates": verdict.duplicates,
            "missing": len(verdict.missing),
            "dlq": len(verdict.dlq_ids),
        }
    )


def _assert_exactly_once(ledger: Ledger, verdict: Any, expected: set[str]) -> None:
    assert ledger.refused == {}, f"the API refused logs: {ledger.refused}"
    assert verdict.missing == [], f"{len(verdict.missing)} accepted logs never indexed"
    assert verdict.unexpected == []
    assert verdict.duplicates == 0
    assert verdict.indexed == len(expected)


def _client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(settings.redis_url)


def test_worker_killed_repeatedly(processes: Processes, chaos_settings, es):
    rng = random.Random(1)
    run = uuid.uuid4().hex[:8]
    logs = [make_log(run, n, rng) for n in range(CHAOS_LOGS)]
    ledger = Ledger()
    processes.start_api()
    worker = processes.start_worker()
    sending = _send_in_background(processes, logs, ledger)
    kills = 0
    deadline = time.monotonic() + 120
    while kills < 3 and time.monotonic() < deadline:
        time.sleep(rng.uniform(0.5, 1.5))
        processes.kill_worker(worker)  # SIGKILL: no chance to finish or acknowledge
        kills += 1
        worker = processes.start_worker()
    sending.join(timeout=300)
    verdict = verify(es, _client(chaos_settings), chaos_settings, ledger.accepted)
    _record(f"kill worker x{kills}", ledger, verdict)
    assert kills == 3
    _assert_exactly_once(ledger, verdict, ledger.accepted)
    assert verdict.dlq_ids == []


def test_redis_stopped_mid_load_then_fallback_replayed(
    processes: Processes, chaos_settings, own_redis: RedisServer, es
):
    rng = random.Random(2)
    run = uuid.uuid4().hex[:8]
    logs = [make_log(run, n, rng) for n in range(CHAOS_LOGS)]
    ledger = Ledger()
    processes.env["FALLBACK_AUTO_REPLAY"] = "false"  # the operator's command does it here
    processes.start_api()
    processes.start_worker()
    sending = _send_in_background(processes, logs, ledger)
    _wait_until_a_third_is_sent(ledger)
    own_redis.stop()
    time.sleep(2.0)  # the API spools meanwhile
    own_redis.start()
    sending.join(timeout=300)
    time.sleep(1.5)  # idle spool files are released (SPOOL_IDLE_CLOSE=1)
    replay = processes.run_cli("replay-fallback")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    verdict = verify(es, _client(chaos_settings), chaos_settings, ledger.accepted)
    _record("stop redis", ledger, verdict)
    assert ledger.spooled, "Redis was down for 2 s under load: some logs must have been spooled"
    _assert_exactly_once(ledger, verdict, ledger.accepted)


def test_elasticsearch_stopped_mid_load(processes: Processes, chaos_settings, chaos_es, es):
    """chaos_es: a real Elasticsearch node of the test's own, stopped and restarted."""
    rng = random.Random(3)
    run = uuid.uuid4().hex[:8]
    logs = [make_log(run, n, rng) for n in range(CHAOS_LOGS)]
    ledger = Ledger()
    processes.start_api()
    processes.start_worker()
    sending = _send_in_background(processes, logs, ledger)
    _wait_until_a_third_is_sent(ledger)
    chaos_es.stop()
    time.sleep(3.0)
    chaos_es.start()
    sending.join(timeout=300)
    verdict = verify(chaos_es.client, _client(chaos_settings), chaos_settings, ledger.accepted)
    _record("stop elasticsearch", ledger, verdict)
    _assert_exactly_once(ledger, verdict, ledger.accepted)
    assert verdict.dlq_ids == []


def _deep(depth: int) -> dict[str, Any]:
    tree: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        tree = {"k": tree}
    return tree


def test_poison_goes_to_the_dlq_and_everything_else_flows(processes: Processes, chaos_settings, es):
    """Poison reaches the stream by other writers than our API (whose limits refuse
    it): logs Elasticsearch refuses (context deeper than its depth limit) and
    entries that are not logs at all."""
    rng = random.Random(4)
    run = uuid.uuid4().hex[:8]
    logs = [make_log(run, n, rng) for n in range(CHAOS_LOGS)]
    ledger = Ledger()
    processes.start_api()
    processes.start_worker()
    client = _client(chaos_settings)
    poison_ids = set()
    for n in range(max(1, CHAOS_LOGS // 50)):
        poison = normalize(make_log(run, n, rng, id=f"{run}-poison-{n}", context=_deep(25)))
        client.xadd(chaos_settings.stream_key, {"id": poison["id"], "data": orjson.dumps(poison)})
        poison_ids.add(poison["id"])
    undecodable = [f"{run}-undecodable-{i}" for i in range(5)]
    for bad_id in undecodable:
        client.xadd(chaos_settings.stream_key, {"id": bad_id, "data": b"\xff{not json"})
    sending = _send_in_background(processes, logs, ledger)
    sending.join(timeout=300)
    verdict = verify(es, client, chaos_settings, ledger.accepted)
    deadline = time.monotonic() + 30
    while len(verdict.dlq_ids) < len(poison_ids) + 5 and time.monotonic() < deadline:
        time.sleep(0.5)
        verdict = verify(es, client, chaos_settings, ledger.accepted, timeout=0)
    _record("poison", ledger, verdict)
    _assert_exactly_once(ledger, verdict, ledger.accepted)
    assert sorted(verdict.dlq_ids) == sorted(poison_ids | set(undecodable))
    for _entry_id, fields in client.xrange(chaos_settings.dlq_key):
        if fields[b"id"].decode() in poison_ids:
            assert fields[b"status"] == b"400"
            assert orjson.loads(fields[b"data"])["id"] == fields[b"id"].decode()


def test_two_workers_share_the_stream(processes: Processes, chaos_settings, es):
    rng = random.Random(5)
    run = uuid.uuid4().hex[:8]
    logs = [make_log(run, n, rng) for n in range(CHAOS_LOGS)]
    ledger = Ledger()
    processes.env["LOG_BATCH_SIZE"] = "50"
    processes.start_api()
    processes.start_worker()
    processes.start_worker()
    sending = _send_in_background(processes, logs, ledger)
    sending.join(timeout=300)
    client = _client(chaos_settings)
    verdict = verify(es, client, chaos_settings, ledger.accepted)
    _record("two workers", ledger, verdict)
    _assert_exactly_once(ledger, verdict, ledger.accepted)
    consumers = client.xinfo_consumers(chaos_settings.stream_key, chaos_settings.consumer_group)
    assert len(consumers) == 4  # two processes, WORKER_THREADS=2 consumers each
