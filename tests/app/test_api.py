"""POST /api/v1/logs against the real Redis."""

from __future__ import annotations

import orjson
import pytest

from common.config import Settings
from common.schema import UNKNOWN_FIELD_MESSAGE
from common.stream import LogStream
from tests.helpers import free_port

LOG = {"message": "payment failed", "level": "ERROR", "service": "checkout"}


def _entries(stream: LogStream) -> list[tuple[bytes, dict[bytes, bytes]]]:
    return stream.client.xrange(stream.key)  # type: ignore[no-any-return]


def test_accepted_log_is_in_the_stream_with_id_and_data(client, stream):
    response = client.post("/api/v1/logs", json={**LOG, "context": {"order": 42}})
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "accepted"
    [(_entry_id, fields)] = _entries(stream)
    assert fields[b"id"].decode() == body["id"]
    data = orjson.loads(fields[b"data"])
    assert data["id"] == body["id"]
    assert data["level"] == "error"
    assert data["context"] == {"order": 42}
    assert data["received_at"].endswith("Z")


def test_client_id_is_kept(client, stream):
    response = client.post("/api/v1/logs", json={**LOG, "id": "client-key-1"})
    assert response.get_json() == {"id": "client-key-1", "status": "accepted"}


def test_invalid_log_gets_400_naming_each_field(client, stream):
    response = client.post("/api/v1/logs", json={"level": "loud", "service": "x", "usr": 1})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["details"]) == {"level", "message", "usr"}
    assert error["details"]["usr"] == [UNKNOWN_FIELD_MESSAGE]
    assert "usr" in error["message"] and "context" in error["message"]
    assert _entries(stream) == []


def test_malformed_json_gets_400_with_position(client, stream):
    response = client.post(
        "/api/v1/logs", data=b'{"message": "x",', content_type="application/json"
    )
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "malformed_json"
    assert isinstance(error["details"]["position"], int)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("post", "/api/v1/logs", {"data": "m=1", "content_type": "text/plain"}, 415, None),
        ("get", "/api/v1/logs", {}, 405, "method_not_allowed"),
        ("get", "/nowhere", {}, 404, "not_found"),
        ("post", "/api/v1/logs", {"json": "a string"}, 400, "validation_error"),
    ],
)
def test_every_refusal_has_the_json_error_shape(client, method, path, kwargs, status, code):
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["message"]
    assert error["code"] == (code or "unsupported_media_type")


def test_body_over_the_limit_gets_413(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = client.post("/api/v1/logs", json={**LOG, "message": "x" * 2048})
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "request_entity_too_large"


def test_redis_down_means_spooled_and_fsynced_before_202(make_app, settings: Settings, tmp_path):
    from common.spool import spool_files

    down = settings.with_overrides(
        redis_url=f"redis://127.0.0.1:{free_port()}/0", fallback_dir=str(tmp_path)
    )
    client = make_app(down).test_client()
    response = client.post("/api/v1/logs", json={**LOG, "id": "spool-me"})
    assert response.status_code == 202
    assert response.get_json() == {"id": "spool-me", "status": "accepted", "spooled": True}
    [path] = spool_files(tmp_path)
    [line] = path.read_bytes().splitlines()
    assert orjson.loads(line)["id"] == "spool-me"
    health = client.get("/health/detailed").get_json()
    assert health["spool"]["fallback"] is True
    assert health["spool"]["files"] == 1


def test_redis_and_spool_both_failing_means_503_never_a_false_202(make_app, settings: Settings):
    down = settings.with_overrides(
        redis_url=f"redis://127.0.0.1:{free_port()}/0", fallback_dir="/dev/null/spool"
    )
    client = make_app(down).test_client()
    response = client.post("/api/v1/logs", json=LOG)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "unavailable"
    assert response.headers["Retry-After"]


def test_spool_file_is_released_once_redis_works_again(app, client, tmp_path, stream):
    from app.resources import resources

    with app.app_context():
        spool = resources().spool
    spool.write(b'{"already": "spooled"}')
    assert spool.active
    assert client.post("/api/v1/logs", json=LOG).status_code == 202
    assert not spool.active
