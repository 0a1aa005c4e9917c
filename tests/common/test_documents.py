"""Document building and the index template (pure: no services)."""

from __future__ import annotations

from common.documents import build_document, index_for
from common.index_template import MAPPINGS, index_template

LOG = {
    "id": "abc",
    "timestamp": "2026-12-04T19:00:00.000000Z",
    "level": "error",
    "service": "checkout",
    "message": "payment failed",
    "received_at": "2026-12-04T19:00:01.000000Z",
}


def test_minimal_document_is_ecs_shaped():
    doc = build_document(LOG, ingested_at="2026-12-04T19:00:02.000000Z")
    assert doc == {
        "@timestamp": "2026-12-04T19:00:00.000000Z",
        "message": "payment failed",
        "log": {"level": "error"},
        "service": {"name": "checkout"},
        "event": {
            "id": "abc",
            "created": "2026-12-04T19:00:01.000000Z",
            "ingested": "2026-12-04T19:00:02.000000Z",
        },
        "ecs": {"version": doc["ecs"]["version"]},
    }


def test_optional_fields_map_to_ecs_names():
    log = {
        **LOG,
        "environment": "prod",
        "host": "web-1",
        "trace_id": "t",
        "span_id": "s",
        "request_id": "r",
        "tags": ["x"],
        "context": {"user": {"id": 7}},
    }
    doc = build_document(log, ingested_at="x")
    assert doc["service"] == {"name": "checkout", "environment": "prod"}
    assert doc["host"] == {"name": "web-1"}
    assert doc["trace"] == {"id": "t"}
    assert doc["span"] == {"id": "s"}
    assert doc["http"] == {"request": {"id": "r"}}
    assert doc["tags"] == ["x"]
    assert doc["context"] == {"user": {"id": 7}}


def test_every_document_field_is_mapped():
    """The mapping is strict: a field the builder emits but the mapping lacks would
    make every such log fail to index."""
    log = {**LOG, "environment": "e", "host": "h", "trace_id": "t", "span_id": "s"}
    log |= {"request_id": "r", "tags": ["x"], "context": {"k": "v"}}
    doc = build_document(log, ingested_at="x")

    def paths(tree: dict, prefix: str = "") -> set[str]:
        found = set()
        for key, value in tree.items():
            if isinstance(value, dict) and key != "context":
                found |= paths(value, f"{prefix}{key}.")
            else:
                found.add(f"{prefix}{key}")
        return found

    def mapped(props: dict, prefix: str = "") -> set[str]:
        found = set()
        for key, value in props.items():
            if "properties" in value:
                found |= mapped(value["properties"], f"{prefix}{key}.")
            else:
                found.add(f"{prefix}{key}")
        return found

    assert paths(doc) == mapped(MAPPINGS["properties"])


def test_daily_index_comes_from_the_log_timestamp():
    assert (
        index_for("sf_develop_logs", "2026-01-31T23:59:59.999999Z") == "sf_develop_logs-2026.01.31"
    )


def test_template_joins_indices_to_the_alias():
    body = index_template("sf_develop_logs-*", "sf_develop_logs")
    assert body["index_patterns"] == ["sf_develop_logs-*"]
    assert body["template"]["aliases"] == {"sf_develop_logs": {}}
    assert body["template"]["mappings"]["dynamic"] == "strict"
