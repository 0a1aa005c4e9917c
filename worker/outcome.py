"""Classify a bulk response, item by item (pure code).

- stored: 200/201, or 409 ``version_conflict_engine_exception`` — with
  ``op_type=create`` that means the same ``_id`` is already there, i.e. stored.
- retryable: 429 and 5xx — Elasticsearch is busy or unwell; try again later.
- permanent: any other 4xx (mapping or parse error, blocked index, …) — sending
  it again cannot succeed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

STORED = "stored"
RETRYABLE = "retryable"
PERMANENT = "permanent"


@dataclass(frozen=True)
class ItemOutcome:
    kind: str
    status: int
    error_type: str | None = None
    reason: str | None = None


@dataclass
class BulkOutcome:
    """Positions (into the request) grouped by what happens to them next."""

    stored: list[int] = field(default_factory=list)
    retryable: list[int] = field(default_factory=list)
    permanent: list[tuple[int, ItemOutcome]] = field(default_factory=list)


def classify_item(item: dict[str, Any]) -> ItemOutcome:
    status = int(item.get("status", 0))
    error = item.get("error") or {}
    error_type = error.get("type") if isinstance(error, dict) else None
    reason = error.get("reason") if isinstance(error, dict) else str(error)
    if 200 <= status < 300:
        return ItemOutcome(STORED, status)
    if status == 409 and error_type == "version_conflict_engine_exception":
        return ItemOutcome(STORED, status, error_type, reason)
    if status == 429 or status >= 500 or status == 0:
        return ItemOutcome(RETRYABLE, status, error_type, reason)
    return ItemOutcome(PERMANENT, status, error_type, reason)


def classify(items: Sequence[dict[str, Any]], expected: int) -> BulkOutcome:
    """Group the items of a bulk reply; a reply that lacks items retries the rest."""
    outcome = BulkOutcome()
    for position in range(expected):
        if position >= len(items):
            outcome.retryable.append(position)
            continue
        result = classify_item(items[position])
        if result.kind == STORED:
            outcome.stored.append(position)
        elif result.kind == RETRYABLE:
            outcome.retryable.append(position)
        else:
            outcome.permanent.append((position, result))
    return outcome
