"""OTLP/HTTP JSON logs → client logs (pure: no services).

The main payload is made by the OpenTelemetry Python SDK itself: records emitted
through the Logs API and the stdlib logging bridge, inside a real span, encoded by
the OTLP exporter's own encoder and rendered with protobuf's ``json_format``. Proto3
JSON then differs from the OTLP JSON encoding in one way that matters here: ids are
base64, where OTLP JSON (and the collector) send lowercase hex. ``otlp_json`` makes
that change; the proto3 form is tested too, since some encoders send it.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import random
import re
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict
from marshmallow import ValidationError
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from common.otlp import EMPTY_BODY, UNKNOWN_SERVICE, OtlpError, export_response, logs_from_otlp
from common.schema import ID_PATTERN, normalize

NOW = datetime(2026, 12, 4, 19, 0, 0, tzinfo=UTC)
API_TIME_NS = 1_796_000_000_123_456_789
ID = re.compile(r"^otlp-[0-9a-f]{32}$")


def _normalize(log: object) -> dict[str, Any]:
    return normalize(log, now=lambda: NOW, make_id=lambda: "generated-id")


def _rejected(log: object) -> bool:
    try:
        _normalize(log)
    except ValidationError:
        return True
    return False


# --- payloads the SDK makes -------------------------------------------------------


@pytest.fixture(scope="module")
def sdk_export() -> Iterator[dict[str, Any]]:
    """Three records, as the SDK's OTLP exporter encodes them, in proto3 JSON; plus ids."""
    exporter = InMemoryLogRecordExporter()
    resource = Resource.create(
        {"service.name": "checkout", "deployment.environment": "staging", "host.name": "web-1"}
    )
    provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    tracer = TracerProvider(shutdown_on_exit=False).get_tracer("tests")
    logger = provider.get_logger("checkout.payments", "1.2.3")
    with warnings.catch_warnings():  # the SDK's bridge is deprecated in favour of a contrib one
        warnings.simplefilter("ignore", DeprecationWarning)
        handler = LoggingHandler(logger_provider=provider)
    stdlib = logging.getLogger("checkout.std")
    stdlib.addHandler(handler)
    stdlib.propagate = False
    try:
        with tracer.start_as_current_span("pay") as span:
            logger.emit(
                timestamp=API_TIME_NS,
                severity_number=SeverityNumber.WARN,
                severity_text="WARN",
                body="card declined",
                attributes={"order.id": 42, "amount": 9.5, "retry": True, "items": ["a", "b"]},
            )
            stdlib.error("payment %s failed", "p-1", extra={"customer": "c-9"})
        logger.emit(body={"k": [1, 2], "n": None, "é": "ü"}, event_name="payment.audit")
    finally:
        stdlib.removeHandler(handler)
        stdlib.propagate = True
    request = encode_logs(exporter.get_finished_logs())
    payload = MessageToDict(request, use_integers_for_enums=True)  # OTLP: enums as integers
    context = span.get_span_context()
    payload["_ids"] = (format(context.trace_id, "032x"), format(context.span_id, "016x"))
    yield payload


def _records(payload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for resource_logs in payload["resourceLogs"]:
        for scope_logs in resource_logs["scopeLogs"]:
            yield from scope_logs["logRecords"]


def otlp_json(proto3: dict[str, Any]) -> dict[str, Any]:
    """Proto3 JSON → OTLP JSON: trace and span ids as lowercase hex, not base64."""
    payload = copy.deepcopy(proto3)
    payload.pop("_ids")
    for record in _records(payload):
        for field in ("traceId", "spanId"):
            if field in record:
                record[field] = base64.b64decode(record[field]).hex()
    return payload


@pytest.fixture(scope="module")
def sdk_logs(sdk_export: dict[str, Any]) -> list[dict[str, Any]]:
    return logs_from_otlp(otlp_json(sdk_export))


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


# --- hand-made payloads ------------------------------------------------------------


def _payload(*records: object, resource: object = None, scope: object = None) -> dict[str, Any]:
    scope_logs: dict[str, Any] = {"logRecords": list(records)}
    if scope is not None:
        scope_logs["scope"] = scope
    resource_logs: dict[str, Any] = {"scopeLogs": [scope_logs]}
    if resource is not None:
        resource_logs["resource"] = resource
    return {"resourceLogs": [resource_logs]}


def _kv(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "value": value}


def _resource(**strings: str) -> dict[str, Any]:
    return {
        "attributes": [_kv(k.replace("_", "."), {"stringValue": v}) for k, v in strings.items()]
    }


def _one(record: object, **kwargs: Any) -> dict[str, Any]:
    [log] = logs_from_otlp(_payload(record, **kwargs))
    return log


BODY = {"body": {"stringValue": "hello"}}


# ids


def test_same_record_same_id_whatever_the_key_order() -> None:
    record = {**BODY, "timeUnixNano": "1", "attributes": [_kv("a", {"intValue": "1"})]}
    reordered = dict(reversed(list(record.items())))
    assert _one(record)["id"] == _one(reordered)["id"] == _one(copy.deepcopy(record))["id"]


@pytest.mark.parametrize(
    "change",
    [
        {"body": {"stringValue": "hello!"}},
        {"timeUnixNano": "2"},
        {"attributes": [_kv("a", {"intValue": "2"})]},
        {"severityNumber": 9},
    ],
)
def test_different_record_different_id(change: dict[str, Any]) -> None:
    record = {**BODY, "timeUnixNano": "1", "attributes": [_kv("a", {"intValue": "1"})]}
    assert _one(record)["id"] != _one({**record, **change})["id"]


def test_resource_and_scope_are_part_of_the_id() -> None:
    plain = _one(BODY)["id"]
    assert _one(BODY, resource=_resource(service_name="a"))["id"] != plain
    assert _one(BODY, scope={"name": "lib"})["id"] != plain
    assert (
        _one(BODY, scope={"name": "lib", "version": "2"})["id"]
        != _one(BODY, scope={"name": "lib"})["id"]
    )


def test_distinct_records_in_one_export_get_distinct_ids(sdk_logs: list[dict[str, Any]]) -> None:
    assert len({log["id"] for log in sdk_logs}) == len(sdk_logs)


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


# severity

SEVERITY_RANGES = {  # the OTel data model's severity number ranges
    "trace": range(1, 5),
    "debug": range(5, 9),
    "info": range(9, 13),
    "warn": range(13, 17),
    "error": range(17, 21),
    "fatal": range(21, 25),
}
NUMBERS = [(number, level) for level, numbers in SEVERITY_RANGES.items() for number in numbers]


@pytest.mark.parametrize(("number", "level"), NUMBERS)
def test_severity_number_ranges(number: int, level: str) -> None:
    assert _one({**BODY, "severityNumber": number, "severityText": "INFO"})["level"] == level


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("TRACE", "trace"),
        ("verbose", "trace"),
        ("DEBUG", "debug"),
        ("dbg", "debug"),
        ("Information", "info"),
        ("INFO2", "info"),
        ("notice", "info"),
        ("WARN", "warn"),
        ("Warning", "warn"),
        ("ERR", "error"),
        ("error3", "error"),
        ("SEVERE", "error"),
        ("critical", "fatal"),
        ("FATAL", "fatal"),
        ("emerg", "fatal"),
        (" warn ", "warn"),
        ("bogus", "info"),
        ("", "info"),
    ],
)
def test_severity_text_when_number_is_zero_or_absent(text: str, level: str) -> None:
    assert _one({**BODY, "severityText": text})["level"] == level
    assert _one({**BODY, "severityText": text, "severityNumber": 0})["level"] == level


@pytest.mark.parametrize(
    ("number", "level"),
    [
        ("SEVERITY_NUMBER_WARN2", "warn"),
        ("SEVERITY_NUMBER_FATAL", "fatal"),
        ("SEVERITY_NUMBER_UNSPECIFIED", "error"),
    ],
)
def test_severity_enum_names_of_proto3_json(number: str, level: str) -> None:
    assert _one({**BODY, "severityNumber": number, "severityText": "ERROR"})["level"] == level


def test_no_severity_is_info() -> None:
    assert _one(BODY)["level"] == "info"


@pytest.mark.parametrize(
    "record",
    [
        {"severityNumber": 25},
        {"severityNumber": -1},
        {"severityNumber": "13"},
        {"severityNumber": 13.0},
        {"severityNumber": True},
        {"severityText": 5},
    ],
)
def test_bad_severity_rejects_the_record(record: dict[str, Any]) -> None:
    assert _one({**BODY, **record}) == {}


# AnyValue


@pytest.mark.parametrize(
    ("value", "decoded"),
    [
        ({"stringValue": "s"}, "s"),
        ({"stringValue": ""}, ""),
        ({"boolValue": False}, False),
        ({"intValue": "42"}, 42),
        ({"intValue": 42}, 42),
        ({"intValue": "-9223372036854775808"}, -(2**63)),
        ({"doubleValue": 1.5}, 1.5),
        ({"doubleValue": 3}, 3.0),
        ({"doubleValue": "2.5"}, 2.5),
        ({"doubleValue": "NaN"}, "NaN"),
        ({"doubleValue": "-Infinity"}, "-Infinity"),
        ({"bytesValue": "AAEC"}, "AAEC"),
        ({"arrayValue": {}}, []),
        ({"arrayValue": {"values": [{"intValue": "1"}, {}, {"boolValue": True}]}}, [1, None, True]),
        (
            {
                "kvlistValue": {
                    "values": [_kv("a", {"arrayValue": {"values": [{"doubleValue": 1}]}})]
                }
            },
            {"a": [1.0]},
        ),
        ({}, None),
        (None, None),
    ],
)
def test_any_value_decoding(value: object, decoded: object) -> None:
    log = _one({**BODY, "attributes": [{"key": "v", "value": value}]})
    assert log["context"] == {"v": decoded}
    assert _normalize(log)["context"] == {"v": decoded}


def _nested_arrays(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"stringValue": "leaf"}
    for _ in range(depth):
        value = {"arrayValue": {"values": [value]}}
    return value


@pytest.mark.parametrize(
    "value",
    [
        {"intValue": "4.2"},
        {"intValue": "9223372036854775808"},
        {"intValue": "1" * 5000},
        {"intValue": True},
        {"doubleValue": "fast"},
        {"doubleValue": 10**400},
        {"boolValue": "true"},
        {"stringValue": 5},
        {"stringValue": "a", "intValue": "1"},
        {"arrayValue": {"values": 3}},
        {"arrayValue": [{"stringValue": "a"}]},
        {"kvlistValue": {"values": [{"value": {"stringValue": "keyless"}}]}},
        {"kvlistValue": {"values": [5]}},
        ["stringValue", "s"],
        _nested_arrays(40),
        _nested_arrays(5000),
    ],
)
def test_bad_any_value_rejects_the_record(value: object) -> None:
    log = _one({**BODY, "attributes": [{"key": "v", "value": value}]})
    assert log == {} and _rejected(log)


def test_moderate_nesting_is_kept() -> None:
    assert _one({**BODY, "attributes": [_kv("v", _nested_arrays(10))]})["context"]["v"] == [
        [[[[[[[[["leaf"]]]]]]]]]
    ]


@pytest.mark.parametrize("attributes", [{"a": 1}, "a", [5], [{"key": 5}], [{"value": {}}]])
def test_bad_attribute_list_rejects_the_record(attributes: object) -> None:
    assert _one({**BODY, "attributes": attributes}) == {}


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


# trace and span ids


@pytest.mark.parametrize(
    ("trace_id", "expected"),
    [
        ("5B8EFFF798038103D269B633813FC60C", "5b8efff798038103d269b633813fc60c"),
        (base64.b64encode(bytes(range(1, 17))).decode(), bytes(range(1, 17)).hex()),
        (base64.b64encode(bytes(range(1, 17))).decode().rstrip("="), bytes(range(1, 17)).hex()),
        (base64.urlsafe_b64encode(b"\xfb" * 16).decode(), "fb" * 16),
        ("0" * 32, None),
        (base64.b64encode(bytes(16)).decode(), None),
        ("", None),
        (None, None),
    ],
)
def test_trace_id(trace_id: object, expected: str | None) -> None:
    log = _one({**BODY, "traceId": trace_id})
    assert log.get("trace_id") == expected


def test_span_id_forms() -> None:
    assert _one({**BODY, "spanId": "EEE19B7EC3C1B174"})["span_id"] == "eee19b7ec3c1b174"
    assert _one({**BODY, "spanId": "7uGbfsPBsXQ="})["span_id"] == "eee19b7ec3c1b174"
    assert "span_id" not in _one({**BODY, "spanId": "0000000000000000"})


@pytest.mark.parametrize(
    "record",
    [
        {"traceId": "xyz"},
        {"traceId": "5b8efff798038103d269b633813fc60c00"},
        {"traceId": base64.b64encode(bytes(range(1, 9))).decode()},  # 8 bytes: a span id
        {"spanId": "5b8efff798038103d269b633813fc60c"},  # 32 hex: a trace id
        {"traceId": "ünïcode"},
        {"traceId": 5},
    ],
)
def test_bad_ids_reject_the_record(record: dict[str, Any]) -> None:
    assert _one({**BODY, **record}) == {}


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


# shapes


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        "resourceLogs",
        5,
        {"resourceLogs": 5},
        {"resourceLogs": {}},
        {"resourceLogs": [5]},
        {"resourceLogs": [None]},
        {"resourceLogs": [{"scopeLogs": {}}]},
        {"resourceLogs": [{"scopeLogs": ["x"]}]},
        {"resourceLogs": [{"scopeLogs": [{"logRecords": "x"}]}]},
        {"resourceLogs": [{"scopeLogs": [{"logRecords": {"body": {}}}]}]},
    ],
)
def test_not_an_export_request_is_otlp_error(payload: object) -> None:
    with pytest.raises(OtlpError) as caught:
        logs_from_otlp(payload)
    assert str(caught.value)


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"resourceLogs": None},
        {"resourceLogs": []},
        {"resourceLogs": [{}]},
        {"resourceLogs": [{"scopeLogs": [{}]}]},
        {"resourceLogs": [{"scopeLogs": [{"logRecords": []}]}]},
    ],
)
def test_empty_export_has_no_logs(payload: object) -> None:
    assert logs_from_otlp(payload) == []


def test_non_object_records_become_rejected_logs_in_place() -> None:
    logs = logs_from_otlp(_payload(None, 5, "x", [], BODY, True))
    assert [log.get("message") for log in logs] == [None, None, None, None, "hello", None]
    assert [_rejected(log) for log in logs] == [True, True, True, True, False, True]


@pytest.mark.parametrize(
    ("resource", "scope"),
    [
        ({"attributes": {"service.name": "x"}}, None),
        ("resource", None),
        ({"attributes": [_kv("service.name", {"stringValue": 5})]}, None),
        (None, {"name": 5}),
        (None, {"version": ["1"]}),
        (None, "scope"),
    ],
)
def test_bad_resource_or_scope_rejects_its_records_only(resource: object, scope: object) -> None:
    bad = _payload(BODY, BODY, resource=resource, scope=scope)["resourceLogs"][0]
    good = _payload(BODY)["resourceLogs"][0]
    logs = logs_from_otlp({"resourceLogs": [good, bad, good]})
    assert [_rejected(log) for log in logs] == [False, True, True, False]


def test_ignored_fields_do_not_matter_but_count_in_the_id() -> None:
    plain = _one(BODY)
    flagged = _one({**BODY, "flags": 1, "droppedAttributesCount": 3, "future": {"x": 1}})
    assert {**flagged, "id": ""} == {**plain, "id": ""}
    assert flagged["id"] != plain["id"]


def _garbage(rng: random.Random, depth: int = 0) -> Any:
    keys = [
        "resourceLogs", "scopeLogs", "logRecords", "resource", "scope", "attributes", "key",
        "value", "values", "body", "stringValue", "intValue", "doubleValue", "boolValue",
        "arrayValue", "kvlistValue", "bytesValue", "traceId", "spanId", "timeUnixNano",
        "observedTimeUnixNano", "severityNumber", "severityText", "eventName", "name",
    ]  # fmt: skip
    scalars = [None, True, 0, -1, 2**70, 1.5, float("nan"), "", "x", "13", "AAAA", "0" * 32]
    if depth > 5 or rng.random() < 0.3:
        return rng.choice(scalars)
    if rng.random() < 0.3:
        return [_garbage(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(keys): _garbage(rng, depth + 1) for _ in range(rng.randrange(5))}


def test_garbage_raises_nothing_but_otlp_error() -> None:
    rng = random.Random(20261204)
    counted = 0
    for _ in range(3000):
        payload = _garbage(rng)
        if rng.random() < 0.5:  # graft garbage into a valid envelope too
            payload = _payload(_garbage(rng), resource=_garbage(rng), scope=_garbage(rng))
        try:
            logs = logs_from_otlp(payload)
        except OtlpError:
            continue
        for log in logs:
            counted += 1
            assert log == {} or ID.match(log["id"])
            _rejected(log)  # accepted or a ValidationError, nothing else
    assert counted > 100


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
