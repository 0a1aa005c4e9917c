"""``GET /metrics`` (Prometheus text format) and the per-request HTTP metrics."""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST

from app.resources import resources
from common.metrics import HTTP_LATENCY, HTTP_REQUESTS, render

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    found = resources()
    settings = found.settings
    body = render(found.stream, settings.fallback_dir, settings.prometheus_multiproc_dir)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


def register(app: Flask) -> None:
    @app.before_request
    def start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def count(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule else "unmatched"
        HTTP_REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        started = g.get("started")
        if started is not None:
            HTTP_LATENCY.labels(route, request.method).observe(time.perf_counter() - started)
        return response

    app.register_blueprint(bp)
