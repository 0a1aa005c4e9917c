"""Request forms: batches, NDJSON, compression, limits, backpressure (real Redis)."""

from __future__ import annotations

import gzip
import zlib

import orjson
import pytest
import zstandard

from common.config import Settings
from common.stream import LogStream

LOG = {"message": "m", "level": "info", "service": "s"}


def _ids(stream: LogStream) -> list[str]:
    return [fields[b"id"].decode() for _, fields in stream.client.xrange(stream.key)]


def _ndjson(*logs: object) -> bytes:
    return b"\n".join(orjson.dumps(log) for log in logs) + b"\n"


def test_json_array_is_a_batch_in_request_order(client, stream):
    logs = [{**LOG, "id": f"a{i}"} for i in range(5)]
    response = client.post("/api/v1/logs", json=logs)
    assert response.status_code == 202
    assert response.get_json() == {
        "accepted": 5,
        "ids": ["a0", "a1", "a2", "a3", "a4"],
        "rejected": [],
    }
    assert _ids(stream) == ["a0", "a1", "a2", "a3", "a4"]


def test_partly_invalid_batch_accepts_the_rest_and_says_which(client, stream):
    logs = [{**LOG, "id": "ok-1"}, {**LOG, "level": "loud"}, {**LOG, "id": "ok-2"}]
    body = client.post("/api/v1/logs", json=logs).get_json()
    assert body["accepted"] == 2 and body["ids"] == ["ok-1", "ok-2"]
    [rejected] = body["rejected"]
    assert rejected["index"] == 1
    assert rejected["error"]["code"] == "validation_error"
    assert "level" in rejected["error"]["details"]
    assert _ids(stream) == ["ok-1", "ok-2"]


def test_nothing_acceptable_is_400_with_the_same_shape(client, stream):
    response = client.post("/api/v1/logs", json=[{"level": "x"}, 5])
    assert response.status_code == 400
    body = response.get_json()
    assert body["accepted"] == 0 and body["ids"] == []
    assert [r["index"] for r in body["rejected"]] == [0, 1]
    assert body["error"]["code"] == "validation_error"
    assert _ids(stream) == []


def test_ndjson_names_the_line_that_is_not_json(client, stream):
    body = _ndjson({**LOG, "id": "n1"}) + b'{"broken": \n\n' + _ndjson({**LOG, "id": "n2"})
    response = client.post("/api/v1/logs", data=body, content_type="application/x-ndjson")
    assert response.status_code == 202
    result = response.get_json()
    assert result["ids"] == ["n1", "n2"]
    [rejected] = result["rejected"]
    assert rejected["index"] == 1
    assert rejected["error"]["code"] == "malformed_json"
    assert rejected["error"]["details"]["line"] == 2
    assert "Line 2" in rejected["error"]["message"]


def test_a_single_malformed_ndjson_line_is_400_with_its_line(client):
    response = client.post("/api/v1/logs", data=b"{nope}\n", content_type="application/x-ndjson")
    assert response.status_code == 400
    assert response.get_json()["rejected"][0]["error"]["details"]["line"] == 1


@pytest.mark.parametrize(
    ("data", "content_type"),
    [(b"[]", "application/json"), (b"\n\n", "application/x-ndjson")],
)
def test_empty_batches_are_refused(client, data, content_type):
    response = client.post("/api/v1/logs", data=data, content_type=content_type)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "empty_batch"


def test_too_many_logs_is_413(make_app, settings: Settings, stream):
    client = make_app(settings.with_overrides(max_batch=3)).test_client()
    assert client.post("/api/v1/logs", json=[LOG] * 3).status_code == 202
    for response in (
        client.post("/api/v1/logs", json=[LOG] * 4),
        client.post("/api/v1/logs", data=_ndjson(*[LOG] * 4), content_type="application/x-ndjson"),
    ):
        assert response.status_code == 413
        assert response.get_json()["error"]["code"] == "batch_too_large"


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("zstd", lambda data: zstandard.ZstdCompressor().compress(data)),
    ],
)
def test_compressed_bodies(client, stream, encoding, compress):
    body = compress(_ndjson({**LOG, "id": "z1"}, {**LOG, "id": "z2"}))
    response = client.post(
        "/api/v1/logs",
        data=body,
        content_type="application/x-ndjson",
        headers={"Content-Encoding": encoding},
    )
    assert response.status_code == 202, response.get_json()
    assert _ids(stream) == ["z1", "z2"]


def test_multi_member_gzip_is_read_whole(client, stream):
    body = gzip.compress(_ndjson({**LOG, "id": "m1"})) + gzip.compress(_ndjson({**LOG, "id": "m2"}))
    client.post(
        "/api/v1/logs",
        data=body,
        content_type="application/x-ndjson",
        headers={"Content-Encoding": "gzip"},
    )
    assert _ids(stream) == ["m1", "m2"]


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
def test_a_compression_bomb_is_refused_without_inflating_it(make_app, settings: Settings, encoding):
    client = make_app(settings.with_overrides(max_decompressed_length=1024 * 1024)).test_client()
    zeros = b"[" + b" " * (64 * 1024 * 1024) + b"]"
    bomb = gzip.compress(zeros, 9) if encoding == "gzip" else zstandard.compress(zeros)
    assert len(bomb) < 1024 * 1024
    response = client.post(
        "/api/v1/logs",
        data=bomb,
        content_type="application/json",
        headers={"Content-Encoding": encoding},
    )
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize(
    ("encoding", "data", "status", "code"),
    [
        ("gzip", b"not gzip at all", 400, "invalid_encoding"),
        ("gzip", gzip.compress(b'{"a": 1}')[:-6], 400, "invalid_encoding"),
        ("zstd", b"not zstd", 400, "invalid_encoding"),
        ("br", b"{}", 415, "unsupported_encoding"),
    ],
)
def test_bad_encodings_are_refused(client, encoding, data, status, code):
    response = client.post(
        "/api/v1/logs",
        data=data,
        content_type="application/json",
        headers={"Content-Encoding": encoding},
    )
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


def test_invalid_utf8_is_400_with_its_byte(client):
    response = client.post(
        "/api/v1/logs", data=b'{"message": "\xff\xfe"}', content_type="application/json"
    )
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_utf8"
    assert error["details"]["position"] == 13


def test_malformed_json_says_line_and_column(client):
    response = client.post(
        "/api/v1/logs", data=b'{\n  "message": oops\n}', content_type="application/json"
    )
    details = response.get_json()["error"]["details"]
    assert (details["line"], details["column"]) == (2, 14)


@pytest.mark.parametrize(
    ("override", "log", "field"),
    [
        ({"max_message_length": 10}, {**LOG, "message": "x" * 11}, "message"),
        ({"max_tags": 2}, {**LOG, "tags": ["a", "b", "c"]}, "tags"),
        ({"max_context_depth": 2}, {**LOG, "context": {"a": {"b": {"c": 1}}}}, "context"),
        ({"max_context_bytes": 20}, {**LOG, "context": {"k": "v" * 30}}, "context"),
    ],
)
def test_per_log_limits_name_the_field(make_app, settings: Settings, override, log, field):
    client = make_app(settings.with_overrides(**override)).test_client()
    response = client.post("/api/v1/logs", json=log)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert list(error["details"]) == [field]
    assert field in error["message"]


def test_backpressure_is_429_with_retry_after_and_accepts_nothing(
    make_app, settings: Settings, stream
):
    stream.ensure_group()
    for n in range(3):
        stream.append(f"backlog-{n}", b"{}")
    client = make_app(settings.with_overrides(stream_high_water=3, retry_after_s=7)).test_client()
    response = client.post("/api/v1/logs", json=[LOG, LOG])
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.get_json()["error"]["code"] == "backpressure"
    assert stream.length() == 3
    stream.read("drainer", 10, 100)
    stream.ack([e[0].decode() for e in stream.client.xrange(stream.key)])
    relieved = make_app(settings.with_overrides(stream_high_water=3)).test_client()
    assert relieved.post("/api/v1/logs", json=LOG).status_code == 202


def test_batch_spooled_when_redis_is_down(make_app, settings: Settings, tmp_path):
    from common.spool import spool_files
    from tests.helpers import free_port

    down = settings.with_overrides(
        redis_url=f"redis://127.0.0.1:{free_port()}/0", fallback_dir=str(tmp_path)
    )
    client = make_app(down).test_client()
    body = client.post("/api/v1/logs", json=[{**LOG, "id": "s1"}, {**LOG, "id": "s2"}]).get_json()
    assert body["spooled"] is True and body["ids"] == ["s1", "s2"]
    [path] = spool_files(tmp_path)
    assert [orjson.loads(line)["id"] for line in path.read_bytes().splitlines()] == ["s1", "s2"]
