"""OTLP/HTTP JSON logs → client logs (pure code: no Flask, no Redis, no I/O).

``logs_from_otlp`` walks an ExportLogsServiceRequest in the OTLP JSON encoding
(resourceLogs → scopeLogs → logRecords) into one client-log dict per logRecord, in
order, each meant for ``common.schema.normalize``:

- resource ``service.name`` → ``service`` (absent: ``unknown_service``, as in OTel);
  ``deployment.environment[.name]`` → ``environment``; ``host.name`` → ``host``.
- ``severityNumber`` (1-4 trace … 21-24 fatal; or its enum name) → ``level``; if 0
  or absent, ``severityText`` in common spellings (INFO2, Information, ERR…); else info.
- ``body`` → ``message``: text as is, other values as compact JSON; a blank body
  falls back to ``eventName``, attribute ``event.name``, then "(empty body)".
- ``attributes`` → ``context``, AnyValue decoded (intValue strings → int, bytes kept
  as base64 text); ``context["otel"]`` (it wins over an attribute of that name) holds
  the scope name/version, the other resource attributes and the event name.
- ``traceId``/``spanId`` → lowercase hex (base64, proto3's default, is converted);
  all-zero ids are left out. ``timeUnixNano`` or else ``observedTimeUnixNano`` →
  epoch ms; with neither, normalize stamps the receipt time.
- ``id`` = "otlp-" + sha256 (32 hex) of canonical JSON of the resource attributes,
  scope name/version and raw logRecord. A collector that got no answer retries the
  whole export; the retried record must get the id its first delivery got, since
  that id is what stops it being stored twice. The position in the batch is left
  out (a retry may be batched differently), so identical records are one log.

Shapes are checked strictly. ``OtlpError`` means the records cannot even be counted
(payload not an object; resourceLogs/scopeLogs/logRecords not a list; a
resourceLogs or scopeLogs entry not an object). A logRecord that is not an object or
has a field of the wrong type (itself, its resource or its scope) maps to ``{}``,
which normalize rejects: length and order are kept for the rejected count that
``export_response`` reports. No JSON input raises anything else.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from common.schema import LEVEL_ALIASES, LEVELS

_T = TypeVar("_T")
UNKNOWN_SERVICE = "unknown_service"
EMPTY_BODY = "(empty body)"
MAX_VALUE_DEPTH = 32  # AnyValue nesting; deeper is garbage, not worth recursing into
_INTEGER = re.compile(r"-?[0-9]{1,20}")  # int64/uint64 are JSON strings in OTLP JSON
_HEX = re.compile(r"[0-9a-fA-F]+")
_SEVERITY_NAMES = {"SEVERITY_NUMBER_UNSPECIFIED": 0} | {  # proto3 JSON's default for enums
    f"SEVERITY_NUMBER_{level.upper()}{step if step > 1 else ''}": 4 * index + step
    for index, level in enumerate(LEVELS)
    for step in range(1, 5)
}
_TEXT_SYNONYMS = {  # severityText spellings of common logging libraries and syslog
    "trace": "verbose finest finer",
    "debug": "dbg fine",
    "info": "information informational notice",
    "warn": "wrn",
    "error": "err severe alert",
    "fatal": "crit emerg emergency panic",
}
_LEVEL_BY_TEXT = (
    {level: level for level in LEVELS}
    | LEVEL_ALIASES
    | {word: level for level, words in _TEXT_SYNONYMS.items() for word in words.split()}
)


class OtlpError(ValueError):
    """The payload is not an ExportLogsServiceRequest: no record can be counted."""


class _Rejected(Exception):
    """A record, or its resource or scope, has a field of the wrong shape."""


@dataclass(frozen=True)
class _Origin:
    """What every record of one scopeLogs shares."""

    fields: dict[str, str]  # service, environment, host
    otel: dict[str, Any]  # the base of context["otel"]
    key: dict[str, Any]  # hashed into each record's id


def logs_from_otlp(payload: object) -> list[dict[str, Any]]:
    """One client-log dict per logRecord, in order (``{}`` for a malformed one)."""
    if not isinstance(payload, Mapping):
        raise OtlpError("An OTLP logs export must be a JSON object.")
    logs: list[dict[str, Any]] = []
    for i, resource_logs in enumerate(_items(payload, "resourceLogs", "")):
        path = f"resourceLogs[{i}]"
        for j, scope_logs in enumerate(_items(resource_logs, "scopeLogs", path)):
            origin = _origin(resource_logs, scope_logs)
            records = _items(scope_logs, "logRecords", f"{path}.scopeLogs[{j}]", objects=False)
            logs.extend(_client_log(origin, record) for record in records)
    return logs


def export_response(rejected: int, error_message: str = "") -> dict[str, Any]:
    """ExportLogsServiceResponse JSON: ``{}`` on full success, else partialSuccess."""
    if rejected < 0:
        raise ValueError("rejected must not be negative")
    if not rejected and not error_message:
        return {}
    return {"partialSuccess": {"rejectedLogRecords": rejected, "errorMessage": error_message}}


def _items(container: Mapping[str, Any], key: str, path: str, objects: bool = True) -> list[Any]:
    where = f"{path}.{key}" if path else key
    items = container.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise OtlpError(f"{where} must be a list.")
    if objects and not all(isinstance(item, Mapping) for item in items):
        raise OtlpError(f"Each entry of {where} must be an object.")
    return items


def _origin(resource_logs: Mapping[str, Any], scope_logs: Mapping[str, Any]) -> _Origin | None:
    try:
        resource_attributes = _object(resource_logs.get("resource")).get("attributes")
        attributes = _attributes(resource_attributes)
        scope = _object(scope_logs.get("scope"))
        name, version = _string(scope.get("name")), _string(scope.get("version"))
    except _Rejected:
        return None
    fields = {"service": _text(attributes.pop("service.name", None)) or UNKNOWN_SERVICE}
    found = {
        "environment": _text(attributes.get("deployment.environment.name"))
        or _text(attributes.get("deployment.environment")),
        "host": _text(attributes.get("host.name")),
    }
    fields |= {field: value for field, value in found.items() if value}
    scope_part = {k: v for k, v in (("name", name), ("version", version)) if v}
    otel = {k: v for k, v in (("scope", scope_part), ("resource", attributes)) if v}
    key = {"resource": resource_attributes, "scope": [name, version]}
    return _Origin(fields, otel, key)


def _client_log(origin: _Origin | None, record: object) -> dict[str, Any]:
    if origin is None or not isinstance(record, Mapping):
        return {}
    try:
        return _map_record(origin, record)
    except _Rejected:
        return {}


def _map_record(origin: _Origin, record: Mapping[str, Any]) -> dict[str, Any]:
    attributes = _attributes(record.get("attributes"))
    event_name = _string(record.get("eventName"))
    log: dict[str, Any] = {"id": _log_id(origin.key, record), **origin.fields}
    log["level"] = _level(record.get("severityNumber"), record.get("severityText"))
    log["message"] = _message(record.get("body"), event_name, attributes)
    times = (_nanos(record.get("timeUnixNano")), _nanos(record.get("observedTimeUnixNano")))
    if any(times):
        log["timestamp"] = (times[0] or times[1]) // 1_000_000
    ids = {
        "trace_id": _hex_id(record.get("traceId"), 16),
        "span_id": _hex_id(record.get("spanId"), 8),
    }
    log |= {field: value for field, value in ids.items() if value}
    otel = copy.deepcopy(origin.otel) | ({"event_name": event_name} if event_name else {})
    context = attributes | ({"otel": otel} if otel else {})
    if context:
        log["context"] = context
    return log


def _log_id(origin_key: dict[str, Any], record: Mapping[str, Any]) -> str:
    try:
        canonical = json.dumps([origin_key, record], sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):  # not JSON data: cannot be a retry
        raise _Rejected from None
    return "otlp-" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _level(number: object, text: object) -> str:
    if isinstance(number, str) and number in _SEVERITY_NAMES:
        number = _SEVERITY_NAMES[number]
    if number not in (None, 0):
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 24:
            raise _Rejected
        return LEVELS[(number - 1) // 4]
    word = _string(text).strip().lower().rstrip("0123456789")  # INFO2, WARN3 … are OTel names
    return _LEVEL_BY_TEXT.get(word, "info")


def _message(body: object, event_name: str, attributes: Mapping[str, Any]) -> str:
    value = _any_value(body)
    if isinstance(value, str) and value.strip():
        return value
    if value is not None and not isinstance(value, str):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return _text(event_name) or _text(attributes.get("event.name")) or EMPTY_BODY


def _hex_id(raw: object, size: int) -> str | None:
    text = _string(raw)
    if text and not (len(text) == 2 * size and _HEX.fullmatch(text)):  # proto3 JSON: base64
        try:
            decoded = base64.b64decode(text + "=" * (-len(text) % 4), b"-_", validate=True)
        except ValueError:  # binascii.Error is one
            raise _Rejected from None
        if len(decoded) != size:
            raise _Rejected
        text = decoded.hex()
    return text.lower() if text.strip("0") else None


def _attributes(raw: object, depth: int = 0) -> dict[str, Any]:
    decoded: dict[str, Any] = {}
    for item in _typed(raw, list, []):
        key_value = _object(item)
        if not isinstance(key_value.get("key"), str):
            raise _Rejected
        decoded[key_value["key"]] = _any_value(key_value.get("value"), depth + 1)
    return decoded


def _any_value(raw: object, depth: int = 0) -> Any:
    value = _object(raw)
    kinds = [kind for kind in _DECODERS if kind in value]
    if len(kinds) > 1 or depth > MAX_VALUE_DEPTH:  # a oneof holds one kind at most
        raise _Rejected
    return _DECODERS[kinds[0]](value[kinds[0]], depth) if kinds else None


def _array(raw: object, depth: int) -> list[Any]:
    values = _typed(_object(raw).get("values"), list, [])
    return [_any_value(value, depth + 1) for value in values]


def _integer(raw: object, low: int, high: int) -> int:
    if isinstance(raw, str) and _INTEGER.fullmatch(raw):
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw < high:
        raise _Rejected
    return raw


def _nanos(raw: object) -> int:
    return 0 if raw is None else _integer(raw, 0, 2**64)


def _double(raw: object, depth: int) -> float | str:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise _Rejected
    try:
        number = float(raw)
    except (ValueError, OverflowError):
        raise _Rejected from None
    if math.isfinite(number):
        return number
    return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")


def _typed(raw: object, kind: type[_T], default: _T) -> _T:
    """``raw`` if it is a ``kind``; JSON null is the proto3 default; else rejected."""
    if raw is None:
        return default
    if not isinstance(raw, kind):
        raise _Rejected
    return raw


def _string(raw: object) -> str:
    return _typed(raw, str, "")


def _object(raw: object) -> dict[str, Any]:
    return _typed(raw, dict, {})


def _text(value: object) -> str | None:
    """A non-blank string, else None (for fields that may only hold text)."""
    return value if isinstance(value, str) and value.strip() else None


_DECODERS: dict[str, Callable[[Any, int], Any]] = {
    "stringValue": lambda raw, depth: _string(raw),
    "boolValue": lambda raw, depth: _typed(raw, bool, False),
    "intValue": lambda raw, depth: _integer(raw, -(2**63), 2**63),
    "doubleValue": _double,
    "arrayValue": _array,
    "kvlistValue": lambda raw, depth: _attributes(_object(raw).get("values"), depth),
    "bytesValue": lambda raw, depth: _string(raw),  # base64 text, kept as it came
}
