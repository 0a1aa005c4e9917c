"""From a canonical log to an ECS-style Elasticsearch document (pure code).

The document's ``_id`` is the log's id and its index is chosen from the log's own
timestamp, so a log that is sent twice, retried or replayed always lands on the
same ``(_index, _id)`` and is stored once.

Application ``context`` is stored in a ``flattened`` field: every leaf is indexed
as a keyword, so one service sending ``user: "alice"`` and another sending
``user: {"id": 7}`` can never cause a mapping conflict for each other.
"""

from __future__ import annotations

from typing import Any

ECS_VERSION = "8.17.0"


def index_for(alias: str, timestamp: str) -> str:
    """Daily index from an RFC 3339 UTC timestamp: ``<alias>-YYYY.MM.DD``."""
    return f"{alias}-{timestamp[0:4]}.{timestamp[5:7]}.{timestamp[8:10]}"


def build_document(log: dict[str, Any], *, ingested_at: str) -> dict[str, Any]:
    """ECS document for one canonical log (see ``common.schema.normalize``)."""
    doc: dict[str, Any] = {
        "@timestamp": log["timestamp"],
        "message": log["message"],
        "log": {"level": log["level"]},
        "service": {"name": log["service"]},
        "event": {
            "id": log["id"],
            "created": log["received_at"],
            "ingested": ingested_at,
        },
        "ecs": {"version": ECS_VERSION},
    }
    if "environment" in log:
        doc["service"]["environment"] = log["environment"]
    if "host" in log:
        doc["host"] = {"name": log["host"]}
    if "trace_id" in log:
        doc["trace"] = {"id": log["trace_id"]}
    if "span_id" in log:
        doc["span"] = {"id": log["span_id"]}
    if "request_id" in log:
        doc["http"] = {"request": {"id": log["request_id"]}}
    if log.get("tags"):
        doc["tags"] = log["tags"]
    if log.get("context"):
        doc["context"] = log["context"]
    return doc
