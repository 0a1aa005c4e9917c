"""The log contract (pure: no services)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from marshmallow import ValidationError

from common.schema import UNKNOWN_FIELD_MESSAGE, load_stored, normalize, parse_timestamp

NOW = datetime(2026, 12, 4, 19, 0, 0, 123456, tzinfo=UTC)


def _normalize(payload: object) -> dict:
    return normalize(payload, now=lambda: NOW, make_id=lambda: "generated-id")


def _errors(payload: object) -> dict:
    with pytest.raises(ValidationError) as caught:
        _normalize(payload)
    messages = caught.value.messages
    assert isinstance(messages, dict)
    return messages


MINIMAL = {"message": "hello", "level": "info", "service": "checkout"}


def test_minimal_log_gets_id_timestamp_and_received_at():
    log = _normalize(MINIMAL)
    assert log == {
        "id": "generated-id",
        "timestamp": "2026-12-04T19:00:00.123456Z",
        "level": "info",
        "service": "checkout",
        "message": "hello",
        "received_at": "2026-12-04T19:00:00.123456Z",
    }


def test_full_log_keeps_every_field():
    payload = {
        **MINIMAL,
        "id": "order-42:attempt.1",
        "timestamp": "2026-01-02T03:04:05.678+02:00",
        "environment": "prod",
        "host": "web-1",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": "00f067aa0ba902b7",
        "request_id": "req-1",
        "tags": ["a", "b"],
        "context": {"user": {"id": 7}, "cart": [1, 2]},
    }
    log = _normalize(payload)
    assert log["id"] == "order-42:attempt.1"
    assert log["timestamp"] == "2026-01-02T01:04:05.678000Z"
    assert log["context"] == {"user": {"id": 7}, "cart": [1, 2]}
    assert log["tags"] == ["a", "b"]
    assert {k: log[k] for k in ("environment", "host", "request_id")} == {
        "environment": "prod",
        "host": "web-1",
        "request_id": "req-1",
    }


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("INFO", "info"),
        ("Warn", "warn"),
        ("warning", "warn"),
        ("WARNING", "warn"),
        ("critical", "fatal"),
        ("trace", "trace"),
        ("debug", "debug"),
        ("error", "error"),
        ("FATAL", "fatal"),
    ],
)
def test_levels_are_case_insensitive_with_aliases(given, expected):
    assert _normalize({**MINIMAL, "level": given})["level"] == expected


@pytest.mark.parametrize("level", ["verbose", "", 3, None, "err"])
def test_bad_levels_are_refused(level):
    assert "level" in _errors({**MINIMAL, "level": level})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (0, "1970-01-01T00:00:00.000000Z"),
        (1700000000123, "2023-11-14T22:13:20.123000Z"),
        ("1700000000123", "2023-11-14T22:13:20.123000Z"),
        ("2026-12-04T19:00:00Z", "2026-12-04T19:00:00.000000Z"),
        ("2026-12-04T21:00:00.5+02:00", "2026-12-04T19:00:00.500000Z"),
        ("2026-12-04 19:00:00z", "2026-12-04T19:00:00.000000Z"),
    ],
)
def test_timestamps_normalize_to_rfc3339_utc(given, expected):
    assert _normalize({**MINIMAL, "timestamp": given})["timestamp"] == expected


@pytest.mark.parametrize(
    "given", ["yesterday", "2026-12-04T19:00:00", True, -1, 10**16, {"a": 1}, "2026-13-01T00:00Z"]
)
def test_bad_timestamps_are_refused(given):
    assert "timestamp" in _errors({**MINIMAL, "timestamp": given})


@pytest.mark.parametrize("field", ["message", "level", "service"])
def test_required_fields(field):
    payload = dict(MINIMAL)
    del payload[field]
    assert _errors(payload)[field] == ["Missing data for required field."]


@pytest.mark.parametrize("field", ["message", "service"])
def test_blank_required_strings_are_refused(field):
    assert field in _errors({**MINIMAL, field: "   "})


@pytest.mark.parametrize("bad_id", ["", "a b", "x" * 129, "é", "a/b", 12])
def test_bad_ids_are_refused(bad_id):
    assert "id" in _errors({**MINIMAL, "id": bad_id})


def test_id_allows_the_documented_alphabet():
    good = "Az09._:-" + "x" * 120
    assert _normalize({**MINIMAL, "id": good})["id"] == good


def test_unknown_fields_are_named_and_point_to_context():
    errors = _errors({**MINIMAL, "usr": "alice", "sevrice": "x"})
    assert errors == {"usr": [UNKNOWN_FIELD_MESSAGE], "sevrice": [UNKNOWN_FIELD_MESSAGE]}
    assert "context" in UNKNOWN_FIELD_MESSAGE


@pytest.mark.parametrize(
    ("field", "value"),
    [("context", "not an object"), ("context", [1]), ("tags", "a"), ("tags", [1]), ("host", 5)],
)
def test_wrong_types_are_refused(field, value):
    assert field in _errors({**MINIMAL, field: value})


@pytest.mark.parametrize("payload", [[MINIMAL], "text", 5, None])
def test_non_objects_are_refused(payload):
    assert "_schema" in _errors(payload)


def test_generated_ids_are_unique_and_time_ordered():
    from common.schema import new_log_id

    ids = [new_log_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert ids[0][:10] <= ids[-1][:10]  # the first 10 characters encode the millisecond


def test_canonical_form_loads_again_unchanged():
    log = _normalize({**MINIMAL, "context": {"a": 1}, "tags": ["t"]})
    assert load_stored(log) == log


def test_stored_form_requires_id_and_received_at():
    with pytest.raises(ValidationError) as caught:
        load_stored(MINIMAL)
    assert {"id", "timestamp", "received_at"} <= set(caught.value.messages)


def test_parse_timestamp_returns_aware_utc():
    assert parse_timestamp("2026-12-04T19:00:00+01:00") == datetime(2026, 12, 4, 18, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"level": "WARNING"}, "level"),
        ({"timestamp": "2026-12-04T19:00:00Z"}, "timestamp"),
        ({"received_at": 5}, "received_at"),
        ({"id": "a b"}, "id"),
        ({"message": ""}, "message"),
        ({"host": 3}, "host"),
        ({"tags": ["a", 1]}, "tags"),
        ({"context": []}, "context"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_stored_form_is_checked_field_by_field(change, field):
    log = {**_normalize(MINIMAL), **change}
    with pytest.raises(ValidationError) as caught:
        load_stored(log)
    assert field in caught.value.messages
