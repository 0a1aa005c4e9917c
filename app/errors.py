"""One JSON error shape for every error the API returns:

``{"error": {"code": "...", "message": "...", "details": {...}}}``

Internal details (tracebacks, exception text) never reach a client.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Flask, Response, jsonify
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from app.decoding import Refused
from common.schema import UNKNOWN_FIELD_MESSAGE

log = logging.getLogger("stealthflow.api")


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    response = jsonify({"error": body})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _code(exc: HTTPException) -> str:
    return re.sub(r"[^a-z0-9]+", "_", (exc.name or "error").lower()).strip("_")


def validation_message(details: Any) -> str:
    """One sentence naming the bad fields, unknown ones first."""
    if not isinstance(details, dict):
        return "The log does not match the contract."
    unknown = sorted(k for k, v in details.items() if v == [UNKNOWN_FIELD_MESSAGE])
    invalid = sorted(k for k in details if k not in unknown)
    parts = []
    if unknown:
        parts.append(
            f"unknown field(s) {', '.join(unknown)} (put application fields under 'context')"
        )
    if invalid:
        parts.append(f"invalid field(s) {', '.join(invalid)}")
    return "Invalid log: " + "; ".join(parts) + "."


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        headers = {}
        if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return error_response(
            exc.code or 500, _code(exc), exc.description or "Error.", headers=headers
        )

    @app.errorhandler(Refused)
    def refused(exc: Refused) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(ValidationError)
    def invalid(exc: ValidationError) -> Response:
        details = exc.messages
        return error_response(400, "validation_error", validation_message(details), details)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "Internal error; it has been logged.")
