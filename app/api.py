"""``POST /api/v1/logs``: validate, append to the stream, answer 202.

202 means Redis holds the log: the reply is sent only after XADD returned.
"""

from __future__ import annotations

import logging

import orjson
from flask import Blueprint, Response, jsonify, request

from app.errors import error_response
from app.resources import resources
from common.errors import RedisUnavailable
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
    try:
        resources().stream.append(canonical["id"], orjson.dumps(canonical))
    except RedisUnavailable as exc:
        log.error("stream unavailable, log refused: %s", exc)
        return error_response(
            503,
            "unavailable",
            "The log could not be stored durably; retry later.",
            headers={"Retry-After": "5"},
        )
    return jsonify({"id": canonical["id"], "status": "accepted"}), 202
