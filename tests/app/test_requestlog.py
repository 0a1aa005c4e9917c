"""Request ids and the structured request log."""

from __future__ import annotations

import logging

import orjson

from common.logging import JsonFormatter, request_id

LOG = {"message": "secret-payload-text", "level": "info", "service": "s"}


def test_request_id_is_made_or_kept_and_echoed(client, stream):
    made = client.post("/api/v1/logs", json=LOG).headers["X-Request-ID"]
    assert len(made) == 32
    kept = client.post("/api/v1/logs", json=LOG, headers={"X-Request-ID": "abc-123"})
    assert kept.headers["X-Request-ID"] == "abc-123"
    odd = client.post("/api/v1/logs", json=LOG, headers={"X-Request-ID": "<script>"})
    assert odd.headers["X-Request-ID"] != "<script>"


def test_one_json_line_per_request_with_its_id_and_no_payload(make_app, settings, stream, caplog):
    caplog.set_level(logging.INFO, logger="stealthflow.api")
    client = make_app(settings.with_overrides(access_log=True)).test_client()
    client.post("/api/v1/logs", json=LOG, headers={"X-Request-ID": "req-7"})
    [record] = [r for r in caplog.records if r.__dict__.get("event.action") == "http-request"]
    token = request_id.set("req-7")
    try:
        line = orjson.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(token)
    assert line["http.request.id"] == "req-7"
    assert line["http.status"] == 202 and line["url.path"] == "/api/v1/logs"
    assert line["log.level"] == "info"
    assert "secret-payload-text" not in str(line)


def test_no_access_line_unless_asked(client, stream, caplog):
    caplog.set_level(logging.INFO, logger="stealthflow.api")
    client.post("/api/v1/logs", json=LOG)
    assert not [r for r in caplog.records if r.__dict__.get("event.action") == "http-request"]
