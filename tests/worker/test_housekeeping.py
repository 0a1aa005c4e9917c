"""Crash recovery and retention on the real Redis: claim, poison, trim, forget."""

from __future__ import annotations

import time

import orjson
import pytest

from common.elastic import install_index_template
from common.schema import normalize
from common.stream import LogStream
from worker.consumer import Consumer
from worker.housekeeping import Housekeeping


def _append(stream: LogStream) -> str:
    log = normalize({"message": "m", "level": "info", "service": "s"})
    return stream.append(log["id"], orjson.dumps(log))


@pytest.fixture
def group(stream: LogStream) -> LogStream:
    stream.ensure_group()
    return stream


def _pending_of(stream: LogStream) -> dict[str, int]:
    info = stream.client.xpending(stream.key, stream.group)
    return {c["name"].decode(): int(c["pending"]) for c in info["consumers"]}


def test_entries_of_a_dead_consumer_are_claimed_and_stored(group, es, settings):
    ids = [_append(group) for _ in range(3)]
    group.read("dead-consumer", 10, 100)  # delivered, never acknowledged
    time.sleep(0.05)
    survivor = Consumer(group, es, settings.with_overrides(claim_idle_ms=10))
    install_index_template(es, settings)
    assert survivor.housekeeping.run().claimed == 3
    assert _pending_of(group) == {settings.consumer_name: 3}
    result = survivor.run_once()
    assert sorted(result.stored) == sorted(ids)
    assert group.pending_count() == 0


def test_entries_of_a_live_consumer_are_not_claimed(group, es, settings):
    _append(group)
    group.read("busy-consumer", 10, 100)
    other = Housekeeping(group, settings.with_overrides(claim_idle_ms=60_000))
    assert other.run().claimed == 0
    assert _pending_of(group) == {"busy-consumer": 1}


def test_poison_entry_goes_to_the_dlq_after_max_deliveries(group, es, settings):
    entry_id = _append(group)
    worker = Consumer(group, es, settings.with_overrides(max_deliveries=2))
    # Deliver it by hand as if a worker had crashed on it twice.
    group.read(settings.consumer_name, 10, 100)
    group.read(settings.consumer_name, 10, 100, pending=True)
    worker.replay_pending = True
    result = worker.run_once()
    assert [r.entry.entry_id for r in result.rejected] == [entry_id]
    [(_id, record)] = group.client.xrange(group.dlq_key)
    assert record[b"error_type"] == b"poison"
    assert record[b"attempts"] == b"3"
    assert group.pending_count() == 0


def test_trim_removes_only_what_every_group_acknowledged(group, settings):
    ids = [_append(group) for _ in range(6)]
    delivered = group.read("c1", 4, 100)  # 4 delivered to the group
    group.ack([e.entry_id for e in delivered[:2]])  # 2 acknowledged, 2 pending, 2 undelivered
    group.client.xgroup_create(group.key, "another-group", id=ids[0])  # has not read ids[1:]
    assert group.trim_acknowledged() == 1  # only ids[0]: the other group still needs the rest
    group.client.xgroup_destroy(group.key, "another-group")
    assert group.trim_acknowledged() == 1  # ids[1]; ids[2] is pending in our group
    remaining = [e[0].decode() for e in group.client.xrange(group.key)]
    assert remaining == ids[2:]
    group.ack([e.entry_id for e in delivered[2:]])
    assert group.trim_acknowledged() == 2
    assert [e[0].decode() for e in group.client.xrange(group.key)] == ids[4:]


def test_trim_without_groups_keeps_everything(stream):
    _append(stream)
    assert stream.trim_acknowledged() == 0
    assert stream.length() == 1


def test_idle_consumers_holding_nothing_are_forgotten(group, settings):
    _append(group)
    group.read("holds-one", 1, 100)
    group.client.xgroup_createconsumer(group.key, group.group, "holds-none")
    time.sleep(0.05)
    removed = group.forget_idle_consumers(keep="me", idle_ms=10)
    assert removed == ["holds-none"]
    assert _pending_of(group) == {"holds-one": 1}


def test_housekeeping_replays_the_fallback_spool(group, settings):
    from common.spool import SpoolWriter, spool_files

    log = normalize({"message": "spooled", "level": "info", "service": "s"})
    writer = SpoolWriter(settings.fallback_dir)
    writer.write(orjson.dumps(log))
    chores = Housekeeping(group, settings)
    assert chores.run().replayed == 0  # still held by its writer
    writer.close()
    assert chores.run().replayed == 1
    assert spool_files(settings.fallback_dir) == []
    [(_id, fields)] = group.client.xrange(group.key)
    assert fields[b"id"].decode() == log["id"]
    off = Housekeeping(group, settings.with_overrides(fallback_auto_replay=False))
    SpoolWriter(settings.fallback_dir, idle_close_s=None).close()
    assert off.run().replayed == 0
