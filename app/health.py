"""``/health`` (is the process serving?) and ``/health/detailed`` (its dependencies)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from app.resources import resources
from common.config import Settings
from common.elastic import cluster_health
from common.errors import TransientError
from common.spool import spool_size

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> Response:
    return jsonify({"status": "ok"})


# Errors are only rated over enough logs to mean something.
MIN_ERROR_RATE_SAMPLE = 20


def degradation(body: dict[str, Any], settings: Settings) -> list[str]:
    """Why the pipeline is degraded (still serving, but an alert should fire)."""
    reasons = []
    if body["stream"]["backlog"] >= settings.health_max_backlog:
        reasons.append(f"backlog {body['stream']['backlog']} >= {settings.health_max_backlog}")
    recent = body["recent"]
    if recent["dead_lettered"] >= settings.health_max_dlq_growth:
        reasons.append(
            f"{recent['dead_lettered']} logs dead-lettered in {settings.health_window_s}s "
            f">= {settings.health_max_dlq_growth}"
        )
    handled = recent["indexed"] + recent["dead_lettered"]
    if handled >= MIN_ERROR_RATE_SAMPLE:
        rate = recent["dead_lettered"] / handled
        if rate > settings.health_max_error_rate:
            reasons.append(f"error rate {rate:.3f} > {settings.health_max_error_rate}")
    return reasons


def _redis_checks(settings: Settings) -> dict[str, Any]:
    stream = resources().stream
    try:
        latency = stream.ping_ms()
        return {
            "redis": {"status": "ok", "latency_ms": round(latency, 2)},
            "stream": {
                "length": stream.length(),
                "pending": stream.pending_count(),
                "backlog": stream.backlog(),
            },
            "dlq": {"length": stream.dlq_length()},
            "recent": {
                "window_s": settings.health_window_s,
                **stream.recent_outcomes(settings.health_window_s),
            },
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
    """200 ``ok``; 200 ``degraded`` past a threshold; 503 ``unavailable`` when a
    dependency is down."""
    found = resources()
    body: dict[str, Any] = _redis_checks(found.settings)
    body["elasticsearch"] = _elasticsearch_check()
    # fallback: whether this process is spooling now; files/bytes: waiting for replay
    body["spool"] = {"fallback": found.spool.active, **spool_size(found.settings.fallback_dir)}
    if body["redis"]["status"] != "ok" or body["elasticsearch"]["status"] != "ok":
        return jsonify({"status": "unavailable", **body}), 503
    reasons = degradation(body, found.settings)
    status = {"status": "degraded", "reasons": reasons} if reasons else {"status": "ok"}
    return jsonify({**status, **body}), 200
