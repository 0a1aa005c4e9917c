"""The worker loop against the real Redis and Elasticsearch."""

from __future__ import annotations

import orjson
import pytest
from elasticsearch import Elasticsearch

from common.config import Settings
from common.elastic import install_index_template, make_elasticsearch
from common.errors import ElasticsearchUnavailable
from common.schema import normalize
from common.stream import LogStream
from tests.helpers import free_port
from worker.consumer import Consumer


def _append(stream: LogStream, **fields: object) -> dict:
    log = normalize({"message": "hello", "level": "info", "service": "svc", **fields})
    stream.append(log["id"], orjson.dumps(log))
    return log


@pytest.fixture
def consumer(stream: LogStream, es: Elasticsearch, settings: Settings) -> Consumer:
    worker = Consumer(stream, es, settings)
    stream.ensure_group()
    install_index_template(es, settings)
    return worker


def _drain(consumer: Consumer, rounds: int = 5) -> None:
    for _ in range(rounds):
        consumer.run_once()


def _search(es: Elasticsearch, settings: Settings, **term: str) -> list[dict]:
    es.indices.refresh(index=settings.index_alias)
    query = {"term": term} if term else {"match_all": {}}
    hits = es.search(index=settings.index_alias, query=query, size=100)["hits"]["hits"]
    return hits  # type: ignore[no-any-return]


def test_stored_logs_are_indexed_by_id_and_acknowledged(consumer, stream, es, settings):
    log = _append(
        stream,
        timestamp="2026-03-04T05:06:07.089Z",
        environment="prod",
        host="web-1",
        trace_id="abc",
        span_id="def",
        request_id="req",
        tags=["t1"],
        context={"user": {"id": 7}},
    )
    _drain(consumer)
    doc = es.get(index=settings.index_alias, id=log["id"])
    assert doc["_index"] == f"{settings.index_alias}-2026.03.04"
    source = doc["_source"]
    assert source["@timestamp"] == "2026-03-04T05:06:07.089000Z"
    assert source["log"] == {"level": "info"}
    assert source["service"] == {"name": "svc", "environment": "prod"}
    assert source["host"] == {"name": "web-1"}
    assert source["trace"] == {"id": "abc"} and source["span"] == {"id": "def"}
    assert source["http"] == {"request": {"id": "req"}}
    assert source["context"] == {"user": {"id": 7}}
    assert source["event"]["id"] == log["id"]
    assert stream.pending_count() == 0


def test_context_fields_are_searchable_and_never_conflict(consumer, stream, es, settings):
    _append(stream, service="a", context={"user": "alice"})
    _append(stream, service="b", context={"user": {"id": 7}})
    _drain(consumer)
    assert len(_search(es, settings)) == 2
    assert len(_search(es, settings, **{"context.user": "alice"})) == 1
    assert len(_search(es, settings, **{"context.user.id": "7"})) == 1


def test_the_same_id_twice_is_stored_once_and_both_are_acknowledged(consumer, stream, es, settings):
    _append(stream, id="dup-1", timestamp="2026-01-01T00:00:00Z", message="first")
    _append(stream, id="dup-1", timestamp="2026-01-01T00:00:00Z", message="second")
    _drain(consumer)
    hits = _search(es, settings)
    assert [hit["_source"]["message"] for hit in hits] == ["first"]
    assert stream.pending_count() == 0


def test_undecodable_entry_goes_to_the_dlq_and_is_acknowledged(consumer, stream, es, settings):
    stream.client.xadd(stream.key, {"id": "bad", "data": b"{not json"})
    good = _append(stream)
    _drain(consumer)
    assert [hit["_id"] for hit in _search(es, settings)] == [good["id"]]
    [(_dlq_id, record)] = stream.client.xrange(stream.dlq_key)
    assert record[b"error_type"] == b"invalid_entry"
    assert record[b"data"] == b"{not json"
    assert record[b"attempts"] == b"1"
    assert stream.pending_count() == 0


def test_document_elasticsearch_refuses_goes_to_the_dlq(consumer, stream, es, settings):
    deep: dict = {}
    node = deep
    for _ in range(25):  # deeper than the flattened field's depth_limit
        node["k"] = {}
        node = node["k"]
    node["leaf"] = 1
    bad = _append(stream, context=deep)
    good = _append(stream)
    _drain(consumer)
    assert [hit["_id"] for hit in _search(es, settings)] == [good["id"]]
    [(_dlq_id, record)] = stream.client.xrange(stream.dlq_key)
    assert record[b"id"].decode() == bad["id"]
    assert record[b"status"] == b"400"
    assert record[b"reason"]
    assert orjson.loads(record[b"data"]) == bad
    assert stream.pending_count() == 0


def test_elasticsearch_down_leaves_entries_pending_then_they_are_stored(
    consumer, stream, es, settings
):
    logs = [_append(stream) for _ in range(3)]
    consumer.es = make_elasticsearch(
        settings.with_overrides(elasticsearch_url=f"http://127.0.0.1:{free_port()}")
    )
    for _ in range(3):
        with pytest.raises(ElasticsearchUnavailable):
            consumer.run_once()
        assert stream.pending_count() == 3
    consumer.es = es
    _drain(consumer)
    assert sorted(hit["_id"] for hit in _search(es, settings)) == sorted(x["id"] for x in logs)
    assert stream.pending_count() == 0


def test_retries_after_transient_failures_are_not_counted_as_deliveries(stream, es, settings):
    """Elasticsearch down for longer than MAX_DELIVERIES retries must not make good
    logs look like poison."""
    log = _append(stream)
    strict = Consumer(stream, es, settings.with_overrides(max_deliveries=1))
    stream.ensure_group()
    install_index_template(es, settings)
    strict.es = make_elasticsearch(
        settings.with_overrides(elasticsearch_url=f"http://127.0.0.1:{free_port()}")
    )
    for _ in range(4):
        with pytest.raises(ElasticsearchUnavailable):
            strict.run_once()
    strict.es = es
    strict.run_once()
    assert [hit["_id"] for hit in _search(es, settings)] == [log["id"]]
    assert stream.dlq_length() == 0


def test_batches_are_bounded_by_the_batch_size(stream, es, settings):
    small = Consumer(stream, es, settings.with_overrides(batch_size=2))
    stream.ensure_group()
    for _ in range(5):
        _append(stream)
    assert len(small.run_once().stored) == 2


def test_an_idle_blocking_read_outlasts_the_socket_timeout(settings):
    from common.redis_client import make_redis

    slow = settings.with_overrides(redis_socket_timeout=0.2, block_ms=600)
    stream = LogStream(make_redis(slow, blocking_ms=slow.block_ms), slow)
    stream.ensure_group()
    assert stream.read("idle-consumer", 10, slow.block_ms) == []
