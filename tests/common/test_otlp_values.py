"""OTLP/HTTP JSON logs → client logs: ids, severity, AnyValue and trace/span ids."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from tests.common.otlp_payloads import (
    BODY,
    _kv,
    _normalize,
    _one,
    _rejected,
    _resource,
)

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
