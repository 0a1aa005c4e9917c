"""Request ids and, when asked for, one structured log line per request.

The id comes from the caller's ``X-Request-ID`` (if it is a sane token) or is
made here; it is echoed in the response and on every log line written while the
request is served. Payloads and keys are never logged.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from common.logging import request_id

log = logging.getLogger("stealthflow.api")
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def register(app: Flask, access_log: bool) -> None:
    """``access_log``: one line per request (``ACCESS_LOG``); off by default, because
    on the ingest hot path it costs more than the request's own work is worth."""

    @app.before_request
    def assign_id() -> None:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _SANE.match(given) else uuid.uuid4().hex
        g.request_token = request_id.set(g.request_id)
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if access_log and request.path not in ("/health", "/metrics"):
            started = g.get("request_started", time.perf_counter())
            log.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "event.action": "http-request",
                    "http.method": request.method,
                    "url.path": request.path,
                    "http.status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
        return response

    @app.teardown_request
    def forget_id(_exc: BaseException | None) -> None:
        token = g.pop("request_token", None)
        if token is not None:
            request_id.reset(token)
