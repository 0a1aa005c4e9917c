"""POST /v1/logs: OTLP/HTTP JSON into the stream and on into Elasticsearch."""

from __future__ import annotations

import gzip

import orjson

from common.elastic import install_index_template
from worker.consumer import Consumer

TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "eee19b7ec3c1b174"


def _export(records: list[dict], service: str = "otel-svc") -> dict:
    return {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": service}},
                        {"key": "deployment.environment", "value": {"stringValue": "prod"}},
                    ]
                },
                "scopeLogs": [{"scope": {"name": "app.module"}, "logRecords": records}],
            }
        ]
    }


RECORD = {
    "timeUnixNano": "1733342400123456789",
    "observedTimeUnixNano": "1733342400123456789",
    "severityNumber": 17,
    "severityText": "ERROR",
    "body": {"stringValue": "payment failed"},
    "attributes": [
        {"key": "order.id", "value": {"intValue": "42"}},
        {"key": "retry", "value": {"boolValue": True}},
    ],
    "traceId": TRACE,
    "spanId": SPAN,
}


def test_otlp_export_is_indexed_with_the_mapping(client, stream, es, settings):
    response = client.post("/v1/logs", json=_export([RECORD]))
    assert response.status_code == 200
    assert response.get_json() == {}
    stream.ensure_group()
    install_index_template(es, settings)
    Consumer(stream, es, settings).run_once()
    es.indices.refresh(index=settings.index_alias)
    [hit] = es.search(index=settings.index_alias)["hits"]["hits"]
    source = hit["_source"]
    assert source["service"] == {"name": "otel-svc", "environment": "prod"}
    assert source["log"]["level"] == "error"
    assert source["message"] == "payment failed"
    assert source["trace"]["id"] == TRACE and source["span"]["id"] == SPAN
    assert source["@timestamp"].startswith("2024-12-04T20:00:00.123")
    assert source["context"]["order.id"] == 42


def test_an_exporter_retry_is_stored_once(client, stream):
    for _ in range(2):
        assert client.post("/v1/logs", json=_export([RECORD])).status_code == 200
    ids = {fields[b"id"] for _, fields in stream.client.xrange(stream.key)}
    assert len(ids) == 1  # the same deterministic id: Elasticsearch keeps one document


def test_partial_success_counts_the_refused_records(client, stream):
    bad = {**RECORD, "severityNumber": 99}
    response = client.post("/v1/logs", json=_export([RECORD, bad, "not a record"]))
    assert response.status_code == 200
    partial = response.get_json()["partialSuccess"]
    assert partial["rejectedLogRecords"] == 2
    assert "record 1" in partial["errorMessage"]
    assert stream.length() == 1


def test_gzip_and_refusals(client, stream):
    body = gzip.compress(orjson.dumps(_export([RECORD])))
    response = client.post(
        "/v1/logs",
        data=body,
        content_type="application/json",
        headers={"Content-Encoding": "gzip"},
    )
    assert response.status_code == 200
    protobuf = client.post("/v1/logs", data=b"\x0a\x00", content_type="application/x-protobuf")
    assert protobuf.status_code == 415
    assert "http/json" in protobuf.get_json()["error"]["message"]
    shape = client.post("/v1/logs", json={"resourceLogs": 5})
    assert shape.status_code == 400
    assert shape.get_json()["error"]["code"] == "invalid_otlp"
    assert client.post("/v1/logs", data=b"{", content_type="application/json").status_code == 400
