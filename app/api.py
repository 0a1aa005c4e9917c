"""``POST /api/v1/logs``: validate, append to the stream, answer 202.

202 means the log is durable: in the stream, or fsync'd to the fallback spool
(then the reply says ``"spooled": true``). 503 when neither is possible.
"""

from __future__ import annotations

import logging

import orjson
from flask import Blueprint, Response, jsonify, request

from app.errors import error_response
from app.intake import NotDurable, store
from app.resources import resources
from common.schema import normalize

bp = Blueprint("api", __name__, url_prefix="/api/v1")
log = logging.getLogger("stealthflow.api")


def _json_body() -> object | Response:
    if not request.is_json:
        return error_response(
            415, "unsupported_media_type", "Send the log as JSON (Content-Type: application/json)."
        )
    try:
        payload: object = orjson.loads(request.get_data(cache=False))
        return payload
    except orjson.JSONDecodeError as exc:
        return error_response(
            400, "malformed_json", f"Body is not valid JSON: {exc.msg}", {"position": exc.pos}
        )


@bp.post("/logs")
def ingest() -> Response | tuple[Response, int]:
    payload = _json_body()
    if isinstance(payload, Response):
        return payload
    canonical = normalize(payload)
    found = resources()
    try:
        spooled = store(canonical, found.stream, found.spool)
    except NotDurable:
        return error_response(
            503,
            "unavailable",
            "The log could not be stored durably; retry later with the same id.",
            headers={"Retry-After": "5"},
        )
    body = {"id": canonical["id"], "status": "accepted"}
    if spooled:
        body["spooled"] = True
    return jsonify(body), 202
