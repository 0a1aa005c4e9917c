"""``/health`` (is the process serving?) and ``/health/detailed`` (its dependencies)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from app.resources import resources
from common.elastic import cluster_health
from common.errors import TransientError
from common.spool import spool_size

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> Response:
    return jsonify({"status": "ok"})


def _redis_checks() -> dict[str, Any]:
    stream = resources().stream
    try:
        latency = stream.ping_ms()
        return {
            "redis": {"status": "ok", "latency_ms": round(latency, 2)},
            "stream": {"length": stream.length(), "pending": stream.pending_count()},
            "dlq": {"length": stream.dlq_length()},
        }
    except TransientError as exc:
        return {"redis": {"status": "unavailable", "error": str(exc)}}


def _elasticsearch_check() -> dict[str, Any]:
    try:
        found = cluster_health(resources().elasticsearch)
    except TransientError as exc:
        return {"status": "unavailable", "error": str(exc)}
    ok = found["cluster_status"] in ("green", "yellow")
    return {"status": "ok" if ok else "unavailable", **found}


@bp.get("/health/detailed")
def detailed() -> tuple[Response, int]:
    body: dict[str, Any] = _redis_checks()
    body["elasticsearch"] = _elasticsearch_check()
    found = resources()
    # fallback: whether this process is spooling now; files/bytes: waiting for replay
    body["spool"] = {"fallback": found.spool.active, **spool_size(found.settings.fallback_dir)}
    healthy = body["redis"]["status"] == "ok" and body["elasticsearch"]["status"] == "ok"
    return jsonify({"status": "ok" if healthy else "unavailable", **body}), 200 if healthy else 503
