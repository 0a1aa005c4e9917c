"""The log contract: one marshmallow schema, the single source of truth.

``normalize`` turns what a client sent into the canonical log that travels through
the stream: level folded to its canonical name, timestamp as RFC 3339 UTC, an id
assigned when the client gave none, and ``received_at`` stamped. The canonical
form loads again through ``StoredLogSchema`` unchanged, which is how the worker
re-checks what it reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate
from ulid import ULID

from common.limits import Limits
from common.limits import check as check_limits

LEVELS = ("trace", "debug", "info", "warn", "error", "fatal")
LEVEL_ALIASES = {"warning": "warn", "critical": "fatal"}
ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
EPOCH_MS_MAX = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
UNKNOWN_FIELD_MESSAGE = "Unknown field. Put application-specific fields under 'context'."


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ID_ERROR = "Must be 1-128 characters of A-Z a-z 0-9 . _ : -"


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds, e.g. ``2026-12-04T19:37:01.123456Z``
    (the year always has four digits)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _whole_id(value: str) -> None:
    """``ID_PATTERN`` ends in ``$`` (JSON Schema reuses it), which would let a final
    newline through; the id must match as a whole."""
    if not ID_PATTERN.fullmatch(value):
        raise ValidationError(_ID_ERROR)


def parse_timestamp(value: object) -> datetime:
    """RFC 3339 text (with an offset) or epoch milliseconds → aware UTC datetime."""
    if isinstance(value, bool):
        raise ValidationError("Must be an RFC 3339 string or epoch milliseconds.")
    if isinstance(value, str) and value.isascii() and value.isdigit():
        if len(value) > len(str(EPOCH_MS_MAX)):
            raise ValidationError("Epoch milliseconds out of range (0 to year 9999).")
        value = int(value)
    if isinstance(value, int | float):
        if not 0 <= value <= EPOCH_MS_MAX:
            raise ValidationError("Epoch milliseconds out of range (0 to year 9999).")
        return EPOCH + timedelta(milliseconds=value)  # exact, unlike value / 1000
    if not isinstance(value, str):
        raise ValidationError("Must be an RFC 3339 string or epoch milliseconds.")
    try:
        moment = datetime.fromisoformat(value.strip().upper())  # RFC 3339 allows t, z
    except ValueError:
        raise ValidationError(
            "Not an RFC 3339 timestamp (e.g. 2026-12-04T19:37:01.123Z)."
        ) from None
    if moment.tzinfo is None:
        raise ValidationError("RFC 3339 timestamps need an offset, e.g. 'Z' or '+02:00'.")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValidationError("Timestamp out of range once converted to UTC.") from None


class Level(fields.Field[str]):
    """Case-insensitive level; ``warning`` → ``warn``, ``critical`` → ``fatal``."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if not isinstance(value, str):
            raise ValidationError("Must be a string.")
        level = value.strip().lower()
        level = LEVEL_ALIASES.get(level, level)
        if level not in LEVELS:
            raise ValidationError(f"Must be one of: {', '.join(LEVELS)}.")
        return level


class Timestamp(fields.Field[str]):
    """RFC 3339 string or epoch milliseconds, normalized to RFC 3339 UTC."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        return format_timestamp(parse_timestamp(value))


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be empty.")


def _short_string(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=256), **kwargs)


class LogSchema(Schema):
    """What a client may send for one log."""

    class Meta:
        ordered = True

    error_messages = {"unknown": UNKNOWN_FIELD_MESSAGE}

    id = fields.String(validate=[validate.Regexp(ID_PATTERN, error=_ID_ERROR), _whole_id])
    timestamp = Timestamp()
    level = Level(required=True)
    service = fields.String(required=True, validate=[validate.Length(max=256), _not_blank])
    message = fields.String(required=True, validate=_not_blank)
    environment = _short_string()
    host = _short_string()
    trace_id = _short_string()
    span_id = _short_string()
    request_id = _short_string()
    tags = fields.List(fields.String(validate=validate.Length(min=1, max=256)))
    context = fields.Dict(keys=fields.String())


_LOG_SCHEMA = LogSchema()


def new_log_id() -> str:
    """Time-ordered, unique, URL-safe (a ULID: 48-bit ms time + 80 random bits)."""
    return str(ULID())


_SHORT_FIELDS = ("environment", "host", "trace_id", "span_id", "request_id")
_FIELD_ORDER = ("level", "service", "message", *_SHORT_FIELDS, "tags", "context")
_CLIENT_FIELDS = frozenset(("id", "timestamp", *_FIELD_ORDER))


def _short(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 256


def _fast_load(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """What ``LogSchema().load`` returns for a valid log, at a fraction of its cost,
    or ``None`` when anything is off — then the schema runs and words the errors.
    It accepts exactly what the schema accepts (a property test holds them equal)."""
    if not _CLIENT_FIELDS.issuperset(payload):
        return None
    level, service, message = payload.get("level"), payload.get("service"), payload.get("message")
    if not (isinstance(level, str) and isinstance(service, str) and isinstance(message, str)):
        return None
    level = level.strip().lower()
    level = LEVEL_ALIASES.get(level, level)
    if level not in LEVELS or len(service) > 256 or not service.strip() or not message.strip():
        return None
    loaded: dict[str, Any] = {}
    if "id" in payload:
        if not isinstance(payload["id"], str) or not ID_PATTERN.fullmatch(payload["id"]):
            return None
        loaded["id"] = payload["id"]
    if "timestamp" in payload:
        try:
            loaded["timestamp"] = format_timestamp(parse_timestamp(payload["timestamp"]))
        except ValidationError:
            return None
    loaded |= {"level": level, "service": service, "message": message}
    for name in _SHORT_FIELDS:
        if name in payload:
            if not _short(payload[name]):
                return None
            loaded[name] = payload[name]
    if "tags" in payload:
        tags = payload["tags"]
        if not isinstance(tags, list) or not all(_short(tag) for tag in tags):
            return None
        loaded["tags"] = tags
    if "context" in payload:
        if not isinstance(payload["context"], dict):
            return None
        loaded["context"] = payload["context"]
    return loaded


def normalize(
    payload: object,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    make_id: Callable[[], str] = new_log_id,
    limits: Limits | None = None,
) -> dict[str, Any]:
    """Validate one client log and return its canonical form.

    Raises ``marshmallow.ValidationError`` whose ``messages`` name each bad field.
    """
    if not isinstance(payload, Mapping):
        raise ValidationError({"_schema": ["A log must be a JSON object."]})
    log = _fast_load(payload)
    if log is None:
        log = _LOG_SCHEMA.load(payload)
    if limits is not None:
        exceeded = check_limits(log, limits)
        if exceeded:
            raise ValidationError(exceeded)
    received_at = format_timestamp(now())
    canonical: dict[str, Any] = {"id": log.pop("id", None) or make_id()}
    canonical["timestamp"] = log.pop("timestamp", None) or received_at
    canonical.update(log)
    canonical["received_at"] = received_at
    return canonical


_CANONICAL_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
_REQUIRED = ("id", "timestamp", "level", "service", "message", "received_at")
_OPTIONAL = ("environment", "host", "trace_id", "span_id", "request_id")
_STORED_FIELDS = frozenset((*_REQUIRED, *_OPTIONAL, "tags", "context"))


def _stored_errors(data: Mapping[str, Any]) -> dict[str, list[str]]:
    errors = {name: ["Unknown field."] for name in data if name not in _STORED_FIELDS}
    for name in _REQUIRED:
        if not isinstance(data.get(name), str) or not data[name]:
            errors[name] = ["Missing, empty or not a string."]
    for name in _OPTIONAL:
        if name in data and not isinstance(data[name], str):
            errors[name] = ["Not a string."]
    if "id" not in errors and not ID_PATTERN.fullmatch(data["id"]):
        errors["id"] = ["Not a valid id."]
    for name in ("timestamp", "received_at"):
        if name not in errors and not _CANONICAL_TIME.match(data[name]):
            errors[name] = ["Not a canonical RFC 3339 UTC timestamp."]
    if "level" not in errors and data["level"] not in LEVELS:
        errors["level"] = ["Not a canonical level."]
    tags = data.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        errors["tags"] = ["Not a list of strings."]
    if not isinstance(data.get("context", {}), dict):
        errors["context"] = ["Not an object."]
    return errors


def load_stored(data: object) -> dict[str, Any]:
    """Re-check a canonical log read back from the stream (what ``normalize`` made).

    A direct check of the canonical form rather than the client schema: it runs
    for every log the worker indexes, and the canonical form is strict enough to
    check in a few microseconds.
    """
    if not isinstance(data, dict):
        raise ValidationError({"_schema": ["A log must be a JSON object."]})
    errors = _stored_errors(data)
    if errors:
        raise ValidationError(errors)
    return data
