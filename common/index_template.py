"""The index template and alias layout (pure data).

Daily indices ``<prefix>_<env>_logs-YYYY.MM.DD`` match the template, which gives
them the mapping below and joins them to the read alias ``<prefix>_<env>_logs``
at creation, so Kibana and searches never need to know the daily names.

The root mapping is ``strict``: the worker builds every document, so an unknown
field is a bug, not data. Uses only field types present in every distribution
(no ``match_only_text``), so the same template works on the default distribution
and on the minimal one the tests run against.
"""

from __future__ import annotations

from typing import Any

TEMPLATE_VERSION = 2

_KEYWORD = {"type": "keyword", "ignore_above": 1024}
_DATE = {"type": "date"}

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "@timestamp": _DATE,
        # A keyword sub-field so Kibana can rank the most frequent messages.
        "message": {"type": "text", "fields": {"keyword": _KEYWORD}},
        "log": {"properties": {"level": _KEYWORD}},
        "service": {"properties": {"name": _KEYWORD, "environment": _KEYWORD}},
        "host": {"properties": {"name": _KEYWORD}},
        "trace": {"properties": {"id": _KEYWORD}},
        "span": {"properties": {"id": _KEYWORD}},
        "http": {"properties": {"request": {"properties": {"id": _KEYWORD}}}},
        "tags": _KEYWORD,
        "event": {"properties": {"id": _KEYWORD, "created": _DATE, "ingested": _DATE}},
        "ecs": {"properties": {"version": _KEYWORD}},
        "context": {"type": "flattened", "depth_limit": 20, "ignore_above": 8191},
    },
}


def lifecycle_policy(delete_after: str) -> dict[str, Any]:
    """Body for ``PUT _ilm/policy/<name>``: keep daily indices, delete them after
    ``delete_after`` (an Elasticsearch time unit such as ``30d``) from creation."""
    return {
        "policy": {
            "_meta": {"managed_by": "stealthflow"},
            "phases": {
                "hot": {"min_age": "0ms", "actions": {}},
                "delete": {"min_age": delete_after, "actions": {"delete": {}}},
            },
        }
    }


def index_template(pattern: str, alias: str, lifecycle: str | None = None) -> dict[str, Any]:
    """Body for ``PUT _index_template/<name>``; ``lifecycle`` names an ILM policy."""
    settings: dict[str, Any] = {
        "number_of_shards": 1,
        # One replica wherever there is a second node; none on a single node.
        "auto_expand_replicas": "0-1",
        "refresh_interval": "1s",
    }
    if lifecycle:
        settings["lifecycle"] = {"name": lifecycle}
    return {
        "index_patterns": [pattern],
        "priority": 200,
        "version": TEMPLATE_VERSION,
        "_meta": {"managed_by": "stealthflow"},
        "template": {
            "settings": {"index": settings},
            "mappings": MAPPINGS,
            "aliases": {alias: {}},
        },
    }
