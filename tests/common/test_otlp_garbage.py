"""OTLP/HTTP JSON logs → client logs: payloads of the wrong shape and random garbage."""

from __future__ import annotations

import random
from typing import Any

import pytest

from common.otlp import OtlpError, logs_from_otlp
from tests.common.otlp_payloads import (
    BODY,
    ID,
    _kv,
    _one,
    _payload,
    _rejected,
)

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
