"""Payloads and helpers for the OTLP/HTTP JSON logs → client logs tests (pure: no services).

The main payload (the ``sdk_export`` fixture in conftest.py) is made by the OpenTelemetry
Python SDK itself: records emitted through the Logs API and the stdlib logging bridge, inside a
real span, encoded by the OTLP exporter's own encoder and rendered with protobuf's
``json_format``. Proto3 JSON then differs from the OTLP JSON encoding in one way that matters
here: ids are base64, where OTLP JSON (and the collector) send lowercase hex. ``otlp_json`` makes
that change; the proto3 form is tested too, since some encoders send it.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError

from common.otlp import logs_from_otlp
from common.schema import normalize

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
