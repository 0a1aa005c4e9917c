"""``POST /api/v1/logs``: read, validate, make durable, answer 202.

One JSON object → ``{"id", "status"}``. A JSON array or NDJSON → ``{"accepted",
"ids", "rejected": [{"index", "error"}]}``, 400 with the same shape when nothing
is acceptable. 202 means durable: in the stream, or fsync'd to the fallback spool
(then ``"spooled": true``). 429 past the backlog's high-water mark, 503 when
nothing durable is possible — both with ``Retry-After``; retry with the same ids.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from marshmallow import ValidationError

from app.decoding import Parsed, decompress, parse
from app.errors import error_response, validation_message
from app.intake import NotDurable, store
from app.resources import Resources, resources
from common.config import Settings
from common.limits import Limits
from common.metrics import LOGS_ACCEPTED, LOGS_REJECTED, LOGS_SPOOLED
from common.schema import normalize

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def request_body(settings: Settings) -> bytes:
    """The request's body with its Content-Encoding undone (raises ``Refused``)."""
    return decompress(
        request.get_data(cache=False),
        request.headers.get("Content-Encoding", ""),
        settings.max_decompressed_length,
    )


def read_logs(settings: Settings) -> Parsed:
    """The request's logs, decompressed and parsed (raises ``Refused``)."""
    return parse(request_body(settings), request.mimetype, settings.max_batch)


def validate_all(
    parsed: Parsed, limits: Limits
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Canonical logs that pass, and ``{"index", "error"}`` for each that does not."""
    accepted, rejected = [], []
    for index, item in enumerate(parsed.items):
        if index in parsed.line_errors:
            rejected.append({"index": index, "error": parsed.line_errors[index]})
            continue
        try:
            accepted.append(normalize(item, limits=limits))
        except ValidationError as exc:
            error = {
                "code": "validation_error",
                "message": validation_message(exc.messages),
                "details": exc.messages,
            }
            rejected.append({"index": index, "error": error})
    return accepted, rejected


def make_durable(logs: list[dict[str, Any]], found: Resources) -> bool | Response:
    """``spooled`` flag, or the 429/503 refusal to send instead."""
    retry_after = {"Retry-After": str(found.settings.retry_after_s)}
    if found.backpressure.over(found.stream):
        LOGS_REJECTED.labels("backpressure").inc(len(logs))
        return error_response(
            429,
            "backpressure",
            "The pipeline is behind; retry later with the same ids.",
            headers=retry_after,
        )
    try:
        spooled = store(logs, found.stream, found.spool)
    except NotDurable:
        LOGS_REJECTED.labels("unavailable").inc(len(logs))
        return error_response(
            503,
            "unavailable",
            "The logs could not be stored durably; retry later with the same ids.",
            headers=retry_after,
        )
    LOGS_ACCEPTED.inc(len(logs))
    if spooled:
        LOGS_SPOOLED.inc(len(logs))
    return spooled


@bp.post("/logs")
def ingest() -> Response | tuple[Response, int]:
    found = resources()
    parsed = read_logs(found.settings)
    accepted, rejected = validate_all(parsed, found.limits)
    for item in rejected:
        LOGS_REJECTED.labels(item["error"]["code"]).inc()
    if not parsed.batch and rejected:
        error = rejected[0]["error"]
        return error_response(400, error["code"], error["message"], error.get("details"))
    if not accepted:
        return batch_reply([], rejected, spooled=False, status=400)
    outcome = make_durable(accepted, found)
    if isinstance(outcome, Response):
        return outcome
    if not parsed.batch:
        body: dict[str, Any] = {"id": accepted[0]["id"], "status": "accepted"}
        if outcome:
            body["spooled"] = True
        return jsonify(body), 202
    return batch_reply(accepted, rejected, spooled=outcome, status=202)


def batch_reply(
    accepted: list[dict[str, Any]], rejected: list[dict[str, Any]], spooled: bool, status: int
) -> tuple[Response, int]:
    body: dict[str, Any] = {
        "accepted": len(accepted),
        "ids": [log["id"] for log in accepted],
        "rejected": rejected,
    }
    if spooled:
        body["spooled"] = True
    if status >= 400:
        body["error"] = {"code": "validation_error", "message": "No log in the request is valid."}
    return jsonify(body), status
