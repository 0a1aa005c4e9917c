"""``GET /api/v1/openapi.json``: the API's OpenAPI 3.1 document.

Generated with apispec from the marshmallow schemas: ``common.schema.LogSchema``
(the log contract) for request bodies, and the small reply schemas below for
responses. ``build_document`` is pure; the blueprint builds the document once per
app, from that app's settings, so the limits it states are the ones the app
enforces (message length, tags, batch size) and 401 is documented only when API
keys are on.

Where the contract is looser than JSON Schema can say exactly, the document
states a subset of what is accepted, never more: ``level`` as a case-insensitive
pattern over the canonical names and aliases (surrounding blanks are also
accepted), ``timestamp`` as RFC 3339 or epoch milliseconds (digit strings are
also accepted). Context depth and size limits are described in words.
"""

from __future__ import annotations

from typing import Any

import orjson
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.field_converter import FieldConverterMixin
from flask import Blueprint, Response, current_app
from flask.blueprints import BlueprintSetupState
from marshmallow import Schema, fields, validate

from common.config import Settings
from common.limits import Limits
from common.schema import (
    EPOCH_MS_MAX,
    ID_PATTERN,
    LEVEL_ALIASES,
    LEVELS,
    Level,
    LogSchema,
    Timestamp,
)

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

OPENAPI_VERSION = "3.1.0"
EXTENSION = "stealthflow.openapi"
NDJSON = "application/x-ndjson"
JSON = "application/json"


# --- Replies (marshmallow, so that apispec documents them like the request) ---


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"examples": ["validation_error"]})
    message = fields.String(required=True)
    details = fields.Raw(metadata={"description": "Per-field messages, or where in the body."})


class ErrorSchema(Schema):
    """Every error the API returns."""

    error = fields.Nested(ErrorBodySchema, required=True)


class AcceptedSchema(Schema):
    """202 for one log: durable under ``id``."""

    id = fields.String(required=True, validate=validate.Regexp(ID_PATTERN))
    status = fields.String(required=True, validate=validate.OneOf(["accepted"]))
    spooled = fields.Boolean(
        validate=validate.OneOf([True]),
        metadata={"description": "Present when Redis was down and the log went to the spool."},
    )


class RejectionSchema(Schema):
    index = fields.Integer(required=True, validate=validate.Range(min=0))
    error = fields.Nested(ErrorBodySchema, required=True)


class BatchReplySchema(Schema):
    """202 for a batch: the ids of the accepted logs in request order."""

    accepted = fields.Integer(required=True, validate=validate.Range(min=1))
    ids = fields.List(
        fields.String(validate=validate.Regexp(ID_PATTERN)),
        required=True,
        validate=validate.Length(min=1),
    )
    rejected = fields.List(fields.Nested(RejectionSchema), required=True)
    spooled = fields.Boolean(validate=validate.OneOf([True]))


class BatchRefusedSchema(Schema):
    """400 for a batch in which no log is valid."""

    accepted = fields.Integer(required=True, validate=validate.OneOf([0]))
    ids = fields.List(fields.String(), required=True, validate=validate.Length(max=0))
    rejected = fields.List(
        fields.Nested(RejectionSchema), required=True, validate=validate.Length(min=1)
    )
    error = fields.Nested(ErrorBodySchema, required=True)


class HealthSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ok"]))


class CheckSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ok", "unavailable"]))
    latency_ms = fields.Float(validate=validate.Range(min=0))
    cluster_status = fields.String(validate=validate.OneOf(["green", "yellow", "red"]))
    error = fields.String()


class StreamDepthSchema(Schema):
    length = fields.Integer(required=True, validate=validate.Range(min=0))
    pending = fields.Integer(required=True, validate=validate.Range(min=0))
    backlog = fields.Integer(required=True, validate=validate.Range(min=0))


class DlqDepthSchema(Schema):
    length = fields.Integer(required=True, validate=validate.Range(min=0))


class RecentOutcomesSchema(Schema):
    window_s = fields.Integer(required=True, validate=validate.Range(min=1))
    indexed = fields.Integer(required=True, validate=validate.Range(min=0))
    dead_lettered = fields.Integer(required=True, validate=validate.Range(min=0))


class SpoolStateSchema(Schema):
    fallback = fields.Boolean(required=True)
    files = fields.Integer(required=True, validate=validate.Range(min=0))
    bytes = fields.Integer(required=True, validate=validate.Range(min=0))


class DetailedHealthSchema(Schema):
    """``reasons`` comes with ``degraded``; ``stream``, ``dlq`` and ``recent`` are
    absent while Redis is unavailable."""

    status = fields.String(
        required=True, validate=validate.OneOf(["ok", "degraded", "unavailable"])
    )
    reasons = fields.List(fields.String())
    redis = fields.Nested(CheckSchema, required=True)
    stream = fields.Nested(StreamDepthSchema)
    dlq = fields.Nested(DlqDepthSchema)
    recent = fields.Nested(RecentOutcomesSchema)
    elasticsearch = fields.Nested(CheckSchema, required=True)
    spool = fields.Nested(SpoolStateSchema, required=True)


# --- The log contract's custom fields, which apispec cannot see into ---


def _any_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c}]" if c.isalpha() else c for c in word)


LEVEL_PATTERN = "^(" + "|".join(_any_case(w) for w in (*LEVELS, *LEVEL_ALIASES)) + ")$"


def _contract_fields(
    self: FieldConverterMixin, field: fields.Field[Any], **kwargs: Any
) -> dict[str, Any]:
    """OpenAPI for ``Level`` and ``Timestamp`` (an apispec attribute function)."""
    if isinstance(field, Level):
        aliases = ", ".join(f"{a} → {c}" for a, c in LEVEL_ALIASES.items())
        return {
            "type": "string",
            "pattern": LEVEL_PATTERN,
            "description": f"One of {', '.join(LEVELS)}, in any case; aliases {aliases}. "
            "Stored in lower case.",
            "examples": ["info", "ERROR", "Warning"],
        }
    if isinstance(field, Timestamp):
        return {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "number", "minimum": 0, "maximum": EPOCH_MS_MAX},
            ],
            "description": "RFC 3339 with an offset, or epoch milliseconds; stored as RFC 3339 "
            "UTC with microseconds. Defaults to the time the log is received.",
            "examples": ["2026-12-04T19:37:01.123+02:00", 1796405821123],
        }
    return {}


def _apply_limits(log: dict[str, Any], limits: Limits) -> None:
    """What ``common.limits`` and the schema's not-blank check add to ``Log``."""
    properties = log["properties"]
    for name in ("service", "message"):
        properties[name]["pattern"] = r"\S"  # not blank
    properties["message"]["maxLength"] = limits.message_length
    properties["tags"]["maxItems"] = limits.tags
    properties["context"]["description"] = (
        "Application fields: any JSON object, nested at most "
        f"{limits.context_depth} levels and at most {limits.context_bytes} bytes as JSON."
    )
    properties["id"]["description"] = "Idempotency key; one is assigned when absent."


# --- Operations ---


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 1},
    }
}
WWW_AUTHENTICATE = {"WWW-Authenticate": {"schema": {"type": "string", "enum": ["Bearer"]}}}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {JSON: {"schema": "Error"}}}
    if headers:
        response["headers"] = headers
    return response


def _reply(description: str, *schemas: str) -> dict[str, Any]:
    schema: str | dict[str, Any] = schemas[0]
    if len(schemas) > 1:
        schema = {"anyOf": [{"$ref": f"#/components/schemas/{name}"} for name in schemas]}
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _ingest(settings: Settings) -> dict[str, Any]:
    batch = {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Log"},
        "minItems": 1,
        "maxItems": settings.max_batch,
    }
    one = {"$ref": "#/components/schemas/Log"}
    ndjson_example = (
        '{"level": "info", "service": "checkout", "message": "order placed"}\n'
        '{"level": "error", "service": "checkout", "message": "payment failed"}\n'
    )
    return {
        "summary": "Ingest one log or a batch",
        "description": (
            "202 means durable: in the stream, or fsync'd to the fallback spool "
            '(then `"spooled": true`). A batch accepts its valid logs and lists the '
            "others under `rejected`; it is 400 only when none is valid. Bodies may be "
            "sent with Content-Encoding gzip, deflate or zstd, up to "
            f"{settings.max_decompressed_length} bytes decompressed. Retry 429 and 503 "
            "with the same ids."
        ),
        "requestBody": {
            "required": True,
            "content": {
                JSON: {"schema": {"oneOf": [one, batch]}},
                NDJSON: {
                    "schema": {
                        "type": "string",
                        "description": f"One Log object a line, at most {settings.max_batch} "
                        "lines; blank lines are skipped. Also accepted as application/ndjson "
                        "and application/jsonl.",
                    },
                    "example": ndjson_example,
                },
            },
        },
        "responses": {
            "202": _reply("Accepted and durable.", "Accepted", "BatchReply"),
            "400": _reply(
                "Not a valid log, not JSON, or a batch with no valid log.",
                "Error",
                "BatchRefused",
            ),
            "413": _error(
                f"Body over {settings.max_content_length} bytes, over "
                f"{settings.max_decompressed_length} bytes decompressed, or more than "
                f"{settings.max_batch} logs."
            ),
            "415": _error("Media type or Content-Encoding not supported."),
            "429": _error("The pipeline is behind, or the rate limit is spent.", RETRY_AFTER),
            "503": _error("The logs could not be stored durably.", RETRY_AFTER),
        },
    }


def _otlp(settings: Settings) -> dict[str, Any]:
    export_response = {
        "type": "object",
        "properties": {
            "partialSuccess": {
                "type": "object",
                "properties": {
                    "rejectedLogRecords": {"type": "integer", "minimum": 0},
                    "errorMessage": {"type": "string"},
                },
                "required": ["rejectedLogRecords", "errorMessage"],
            }
        },
        "additionalProperties": False,
    }
    return {
        "summary": "OTLP/HTTP logs export (JSON encoding)",
        "description": (
            "An ExportLogsServiceRequest (resourceLogs → scopeLogs → logRecords) mapped onto "
            "the log contract. Point an OpenTelemetry exporter here with the http/json "
            "protocol. 200 with `{}`, or with `partialSuccess` when some records were refused."
        ),
        "requestBody": {
            "required": True,
            "content": {
                JSON: {
                    "schema": {
                        "type": "object",
                        "properties": {"resourceLogs": {"type": "array", "items": {}}},
                    }
                }
            },
        },
        "responses": {
            "200": {
                "description": "Exported; refused records are counted in partialSuccess.",
                "content": {JSON: {"schema": export_response}},
            },
            "400": _error("Not JSON, or not an ExportLogsServiceRequest."),
            "413": _error(f"More than {settings.max_batch} records, or a body too large."),
            "415": _error("Not application/json (protobuf is not accepted here)."),
            "429": _error("The pipeline is behind, or the rate limit is spent.", RETRY_AFTER),
            "503": _error("The logs could not be stored durably.", RETRY_AFTER),
        },
    }


def _paths(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        "/api/v1/logs": {"post": _ingest(settings)},
        "/v1/logs": {"post": _otlp(settings)},
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (all gunicorn processes, and the queue)",
                "responses": {
                    "200": {
                        "description": "Prometheus text exposition format.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/health": {
            "get": {
                "summary": "Is the process serving?",
                "responses": {"200": _reply("Serving.", "Health")},
            }
        },
        "/health/detailed": {
            "get": {
                "summary": "Dependencies, queue depths and the spool",
                "responses": {
                    "200": _reply(
                        "Redis and Elasticsearch are reachable: `ok`, or `degraded` past a "
                        "backlog, dead-letter or error-rate threshold.",
                        "DetailedHealth",
                    ),
                    "503": _reply("Redis or Elasticsearch is unavailable.", "DetailedHealth"),
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "The OpenAPI document.",
                        "content": {JSON: {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }


def _guarded(path: str, settings: Settings) -> tuple[bool, bool]:
    """Whether ``path`` needs an API key, and whether it counts against the rate limit
    (mirrors ``app.auth``)."""
    if path == "/health":
        return False, False
    needs_key = path != "/health/detailed" or settings.health_detailed_requires_key
    return bool(settings.api_keys) and needs_key, bool(settings.rate_limit)


def _add_auth(spec: APISpec, paths: dict[str, dict[str, Any]], settings: Settings) -> None:
    if settings.api_keys:
        spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
        spec.components.security_scheme(
            "apiKey", {"type": "apiKey", "in": "header", "name": "X-API-Key"}
        )
    for path, operations in paths.items():
        needs_key, limited = _guarded(path, settings)
        for operation in operations.values():
            responses = operation["responses"]
            if needs_key:
                operation["security"] = [{"bearer": []}, {"apiKey": []}]
                responses["401"] = _error("No API key, or not a valid one.", WWW_AUTHENTICATE)
            elif settings.api_keys:
                operation["security"] = []
            if limited and "429" not in responses:
                responses["429"] = _error("The rate limit is spent.", RETRY_AFTER)


def build_document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document for an app running with ``settings`` (pure)."""
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="StealthFlow Observability",
        version="1",
        openapi_version=OPENAPI_VERSION,
        plugins=[plugin],
        info={"description": "Log ingestion: HTTP → Redis Stream → worker → Elasticsearch."},
    )
    plugin.converter.add_attribute_function(_contract_fields)  # type: ignore[union-attr]
    spec.components.schema("Log", schema=LogSchema)
    _apply_limits(spec.components.schemas["Log"], Limits.from_settings(settings))
    for name, schema in (
        ("Error", ErrorSchema),
        ("Accepted", AcceptedSchema),
        ("BatchReply", BatchReplySchema),
        ("BatchRefused", BatchRefusedSchema),
        ("Health", HealthSchema),
        ("DetailedHealth", DetailedHealthSchema),
    ):
        spec.components.schema(name, schema=schema)
    paths = _paths(settings)
    _add_auth(spec, paths, settings)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


@bp.record_once
def _build(state: BlueprintSetupState) -> None:
    settings: Settings = state.app.extensions["stealthflow"].settings
    state.app.extensions[EXTENSION] = orjson.dumps(build_document(settings))


@bp.get("/openapi.json")
def document() -> Response:
    return Response(current_app.extensions[EXTENSION], mimetype=JSON)
