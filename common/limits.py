"""Per-log size limits (pure code), checked by the API after the schema.

They keep one log from costing more than it is worth downstream: a megabyte
message, a context of thousands of keys, or nesting deeper than Elasticsearch's
flattened field accepts (its depth limit is 20; ours is lower).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from common.config import Settings


@dataclass(frozen=True)
class Limits:
    message_length: int = 32 * 1024
    context_bytes: int = 64 * 1024
    context_depth: int = 10
    tags: int = 50

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            settings.max_message_length,
            settings.max_context_bytes,
            settings.max_context_depth,
            settings.max_tags,
        )


def depth(value: Any) -> int:
    """Nesting depth of objects and arrays (a scalar is 0, ``{"a": 1}`` is 1).

    Iterative (no recursion limit to hit) and only containers are visited, so a
    flat context costs one pass over its values."""
    if not isinstance(value, dict | list):
        return 0
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def check(log: dict[str, Any], limits: Limits) -> dict[str, list[str]]:
    """Field → messages for every limit the (schema-valid) log exceeds."""
    errors: dict[str, list[str]] = {}
    if len(log["message"]) > limits.message_length:
        errors["message"] = [f"Longer than {limits.message_length} characters."]
    if len(log.get("tags", ())) > limits.tags:
        errors["tags"] = [f"More than {limits.tags} tags."]
    context = log.get("context")
    if context:
        if depth(context) > limits.context_depth:
            errors.setdefault("context", []).append(
                f"Nested deeper than {limits.context_depth} levels."
            )
        if len(orjson.dumps(context)) > limits.context_bytes:
            errors.setdefault("context", []).append(
                f"Larger than {limits.context_bytes} bytes as JSON."
            )
    return errors
