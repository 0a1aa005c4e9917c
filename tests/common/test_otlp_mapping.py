"""OTLP/HTTP JSON logs → client logs: how records, resources and scopes map (pure: no services)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from common.otlp import EMPTY_BODY, UNKNOWN_SERVICE, export_response, logs_from_otlp
from common.schema import ID_PATTERN
from tests.common.otlp_payloads import (
    API_TIME_NS,
    BODY,
    ID,
    _kv,
    _normalize,
    _one,
    _payload,
    _records,
    _resource,
    otlp_json,
)


def test_sdk_payload_is_hex_otlp_json(sdk_export: dict[str, Any]) -> None:
    records = list(_records(otlp_json(sdk_export)))
    assert len(records) == 3
    assert records[0]["traceId"] == sdk_export["_ids"][0]
    assert records[0]["attributes"][0] == {"key": "order.id", "value": {"intValue": "42"}}


def test_sdk_records_map_in_order_and_normalize(sdk_logs: list[dict[str, Any]]) -> None:
    # The encoder groups records by scope: both Logs API records come first.
    assert [log["message"] for log in sdk_logs] == [
        "card declined",
        '{"k":[1,2],"n":null,"é":"ü"}',
        "payment p-1 failed",
    ]
    for log in sdk_logs:
        canonical = _normalize(log)
        assert canonical["id"] == log["id"]
        assert ID.match(log["id"]) and ID_PATTERN.match(log["id"])


def test_sdk_resource_becomes_service_environment_host(sdk_logs: list[dict[str, Any]]) -> None:
    for log in sdk_logs:
        assert (log["service"], log["environment"], log["host"]) == ("checkout", "staging", "web-1")
        resource = log["context"]["otel"]["resource"]
        assert "service.name" not in resource
        assert resource["deployment.environment"] == "staging"
        assert resource["host.name"] == "web-1"
        assert resource["telemetry.sdk.language"] == "python"


def test_sdk_logs_api_record(sdk_export: dict[str, Any], sdk_logs: list[dict[str, Any]]) -> None:
    log = sdk_logs[0]
    assert log["level"] == "warn"
    assert log["timestamp"] == API_TIME_NS // 1_000_000
    assert (log["trace_id"], log["span_id"]) == sdk_export["_ids"]
    context = dict(log["context"])
    otel = context.pop("otel")
    assert context == {"order.id": 42, "amount": 9.5, "retry": True, "items": ["a", "b"]}
    assert otel["scope"] == {"name": "checkout.payments", "version": "1.2.3"}
    assert "event_name" not in otel
    assert _normalize(log)["timestamp"] == "2026-11-30T00:53:20.123000Z"


def test_sdk_logging_bridge_record(
    sdk_export: dict[str, Any], sdk_logs: list[dict[str, Any]]
) -> None:
    log = sdk_logs[2]
    record = list(_records(sdk_export))[2]
    assert log["level"] == "error"
    assert log["timestamp"] == int(record["timeUnixNano"]) // 1_000_000
    assert (log["trace_id"], log["span_id"]) == sdk_export["_ids"]
    assert log["context"]["customer"] == "c-9"
    assert isinstance(log["context"]["code.line.number"], int)  # an intValue string in JSON
    assert log["context"]["otel"]["scope"] == {"name": "checkout.std"}


def test_sdk_event_record_without_timestamp_or_span(
    sdk_export: dict[str, Any], sdk_logs: list[dict[str, Any]]
) -> None:
    log = sdk_logs[1]
    record = list(_records(sdk_export))[1]
    assert "timeUnixNano" not in record
    assert log["timestamp"] == int(record["observedTimeUnixNano"]) // 1_000_000
    assert log["level"] == "info"
    assert "trace_id" not in log and "span_id" not in log
    assert log["context"]["otel"]["event_name"] == "payment.audit"


def test_proto3_base64_ids_map_like_hex(
    sdk_export: dict[str, Any], sdk_logs: list[dict[str, Any]]
) -> None:
    proto3 = copy.deepcopy(sdk_export)
    proto3.pop("_ids")
    assert next(_records(proto3))["traceId"].endswith("==")
    from_proto3 = logs_from_otlp(proto3)
    assert [{**log, "id": ""} for log in from_proto3] == [{**log, "id": ""} for log in sdk_logs]
    for log in from_proto3:
        _normalize(log)


# --- the spec's example (opentelemetry-proto examples/logs.json) -------------------

SPEC_EXAMPLE: dict[str, Any] = json.loads("""{"resourceLogs": [{
  "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
  "scopeLogs": [{
    "scope": {"name": "my.library", "version": "1.0.0", "attributes": [
      {"key": "my.scope.attribute", "value": {"stringValue": "some scope attribute"}}]},
    "logRecords": [{
      "timeUnixNano": 1544712660300000000,
      "observedTimeUnixNano": 1544712660300000000,
      "severityText": "Information",
      "traceId": "5B8EFFF798038103D269B633813FC60C",
      "spanId": "EEE19B7EC3C1B174",
      "body": {"stringValue": "Example log record"},
      "attributes": [
        {"key": "string.attribute", "value": {"stringValue": "some string"}},
        {"key": "boolean.attribute", "value": {"boolValue": true}},
        {"key": "int.attribute", "value": {"intValue": 10}},
        {"key": "double.attribute", "value": {"doubleValue": 637.704}},
        {"key": "array.attribute", "value": {"arrayValue": {"values": [
          {"stringValue": "many"}, {"stringValue": "values"}]}}},
        {"key": "map.attribute", "value": {"kvlistValue": {"values": [
          {"key": "some.map.key", "value": {"stringValue": "some value"}}]}}}
      ]}]}]}]}""")


def test_spec_example() -> None:
    [log] = logs_from_otlp(SPEC_EXAMPLE)
    assert ID.match(log.pop("id"))
    assert log == {
        "service": "my.service",
        "level": "info",
        "message": "Example log record",
        "timestamp": 1544712660300,
        "trace_id": "5b8efff798038103d269b633813fc60c",
        "span_id": "eee19b7ec3c1b174",
        "context": {
            "string.attribute": "some string",
            "boolean.attribute": True,
            "int.attribute": 10,
            "double.attribute": 637.704,
            "array.attribute": ["many", "values"],
            "map.attribute": {"some.map.key": "some value"},
            "otel": {"scope": {"name": "my.library", "version": "1.0.0"}},
        },
    }
    assert _normalize(log)["timestamp"] == "2018-12-13T14:51:00.300000Z"


# resource


def test_missing_or_blank_service_name_is_unknown_service() -> None:
    assert _one(BODY)["service"] == UNKNOWN_SERVICE
    assert _one(BODY, resource=_resource(service_name=" "))["service"] == UNKNOWN_SERVICE
    non_text = {"attributes": [_kv("service.name", {"intValue": "5"})]}
    assert _one(BODY, resource=non_text)["service"] == UNKNOWN_SERVICE


def test_environment_prefers_the_current_attribute_name() -> None:
    both = _resource(deployment_environment_name="prod", deployment_environment="old")
    assert _one(BODY, resource=both)["environment"] == "prod"
    assert _one(BODY, resource=_resource(deployment_environment="old"))["environment"] == "old"
    assert "environment" not in _one(BODY) and "host" not in _one(BODY)


def test_without_attributes_scope_or_resource_there_is_no_context() -> None:
    log = _one(BODY, resource=_resource(service_name="svc"), scope={"name": ""})
    assert "context" not in log
    assert _normalize(log)["service"] == "svc"


def test_an_attribute_named_otel_yields_to_ours() -> None:
    log = _one({**BODY, "attributes": [_kv("otel", {"stringValue": "x"})]}, scope={"name": "lib"})
    assert log["context"] == {"otel": {"scope": {"name": "lib"}}}


# body


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"body": {"stringValue": "  padded  "}}, "  padded  "),
        ({"body": {"intValue": "7"}}, "7"),
        ({"body": {"boolValue": True}}, "true"),
        ({"body": {"doubleValue": "NaN"}}, "NaN"),
        (
            {"body": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "1"}]}}},
            '["a",1]',
        ),
        ({"body": {"kvlistValue": {"values": [_kv("ü", {"stringValue": "é"})]}}}, '{"ü":"é"}'),
        ({"body": {"arrayValue": {}}}, "[]"),
        ({"eventName": "user.login"}, "user.login"),
        ({"body": {"stringValue": " "}, "eventName": "user.login"}, "user.login"),
        ({"attributes": [_kv("event.name", {"stringValue": "legacy.event"})]}, "legacy.event"),
        ({"body": {}, "attributes": [_kv("event.name", {"intValue": "1"})]}, EMPTY_BODY),
        ({}, EMPTY_BODY),
        ({"body": None}, EMPTY_BODY),
    ],
)
def test_message_from_body(record: dict[str, Any], message: str) -> None:
    log = _one(record)
    assert log["message"] == message
    assert _normalize(log)["message"] == message


def test_bad_body_rejects_the_record() -> None:
    assert _one({"body": "hello"}) == {}
    assert _one({"body": {"stringValue": 1}}) == {}
    assert _one({**BODY, "eventName": 5}) == {}


# timestamps


@pytest.mark.parametrize(
    ("record", "timestamp"),
    [
        ({"timeUnixNano": "1544712660300000000"}, 1544712660300),
        ({"timeUnixNano": 1544712660300999999}, 1544712660300),
        ({"timeUnixNano": "0", "observedTimeUnixNano": "1544712660400000000"}, 1544712660400),
        ({"observedTimeUnixNano": 1544712660400000000}, 1544712660400),
        ({"timeUnixNano": "1", "observedTimeUnixNano": "1544712660400000000"}, 0),
    ],
)
def test_timestamp(record: dict[str, Any], timestamp: int) -> None:
    log = _one({**BODY, **record})
    assert log["timestamp"] == timestamp
    _normalize(log)


def test_without_timestamps_normalize_uses_receipt_time() -> None:
    log = _one({**BODY, "timeUnixNano": "0"})
    assert "timestamp" not in log
    assert _normalize(log)["timestamp"] == _normalize(log)["received_at"]


@pytest.mark.parametrize(
    "record",
    [
        {"timeUnixNano": "abc"},
        {"timeUnixNano": -1},
        {"timeUnixNano": 1.5e18},
        {"observedTimeUnixNano": True},
        {"timeUnixNano": str(2**64)},
    ],
)
def test_bad_timestamp_rejects_the_record(record: dict[str, Any]) -> None:
    assert _one({**BODY, **record}) == {}


def test_the_largest_uint64_is_year_2554_and_accepted() -> None:
    log = _one({**BODY, "timeUnixNano": str(2**64 - 1)})
    assert log["timestamp"] == (2**64 - 1) // 1_000_000
    assert _normalize(log)["timestamp"].startswith("2554-07-21T")


# the response


def test_export_response() -> None:
    assert export_response(0) == {}
    assert export_response(2, "2 logs rejected: level: Must be one of...") == {
        "partialSuccess": {
            "rejectedLogRecords": 2,
            "errorMessage": "2 logs rejected: level: Must be one of...",
        }
    }
    assert export_response(0, "a warning") == {
        "partialSuccess": {"rejectedLogRecords": 0, "errorMessage": "a warning"}
    }
    with pytest.raises(ValueError):
        export_response(-1)


def test_logs_share_no_mutable_state() -> None:
    logs = logs_from_otlp(
        _payload(BODY, BODY, resource=_resource(host_name="h"), scope={"name": "s"})
    )
    logs[0]["context"]["otel"]["resource"]["host.name"] = "changed"
    logs[0]["context"]["otel"]["scope"]["name"] = "changed"
    assert logs[1]["context"]["otel"] == {"scope": {"name": "s"}, "resource": {"host.name": "h"}}
