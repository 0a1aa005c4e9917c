"""``POST /v1/logs``: OTLP/HTTP logs in the JSON encoding, onto the same contract.

An OpenTelemetry SDK or collector points its OTLP/HTTP logs exporter here
(``OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=http://host:3100/v1/logs``, JSON encoding).
The reply follows the OTLP spec: 200 with ``{}``, or with ``partialSuccess`` when
some records were refused; 429/503 with ``Retry-After`` are retried by exporters.
Ids are derived from each record's content, so an exporter's retry is stored once.
"""

from __future__ import annotations

import orjson
from flask import Blueprint, Response, jsonify, request

from app.api import make_durable, request_body, validate_all
from app.decoding import Parsed, Refused
from app.resources import resources
from common.metrics import LOGS_REJECTED
from common.otlp import OtlpError, export_response, logs_from_otlp

bp = Blueprint("otlp", __name__)


def _payload() -> object:
    if request.mimetype == "application/x-protobuf":
        raise Refused(
            415,
            "unsupported_media_type",
            "OTLP/HTTP protobuf is not accepted here; configure the exporter for JSON "
            "(OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=http/json).",
        )
    if request.mimetype != "application/json":
        raise Refused(415, "unsupported_media_type", "Send OTLP logs as application/json.")
    try:
        return orjson.loads(request_body(resources().settings))
    except orjson.JSONDecodeError as exc:
        raise Refused(400, "malformed_json", f"Body is not valid JSON: {exc.msg}.") from None


@bp.post("/v1/logs")
def export() -> Response | tuple[Response, int]:
    found = resources()
    try:
        records = logs_from_otlp(_payload())
    except OtlpError as exc:
        raise Refused(400, "invalid_otlp", str(exc)) from None
    if len(records) > found.settings.max_batch:
        raise Refused(413, "batch_too_large", f"More than {found.settings.max_batch} log records.")
    accepted, rejected = validate_all(Parsed(records, batch=True), found.limits)
    for item in rejected:
        LOGS_REJECTED.labels(item["error"]["code"]).inc()
    if accepted:
        outcome = make_durable(accepted, found)
        if isinstance(outcome, Response):
            return outcome
    message = "; ".join(
        f"record {item['index']}: {item['error']['message']}" for item in rejected[:5]
    )
    return jsonify(export_response(len(rejected), message)), 200
