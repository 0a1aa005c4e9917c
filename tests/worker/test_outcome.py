"""Classifying a bulk response (pure: no services)."""

from __future__ import annotations

import pytest

from worker.outcome import PERMANENT, RETRYABLE, STORED, classify, classify_item


@pytest.mark.parametrize(
    ("item", "kind"),
    [
        ({"status": 201}, STORED),
        ({"status": 200}, STORED),
        ({"status": 409, "error": {"type": "version_conflict_engine_exception"}}, STORED),
        ({"status": 429, "error": {"type": "es_rejected_execution_exception"}}, RETRYABLE),
        ({"status": 500, "error": {"type": "x"}}, RETRYABLE),
        ({"status": 503, "error": {"type": "unavailable_shards_exception"}}, RETRYABLE),
        ({"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "r"}}, PERMANENT),
        ({"status": 400, "error": {"type": "document_parsing_exception"}}, PERMANENT),
        ({"status": 403, "error": {"type": "cluster_block_exception"}}, PERMANENT),
        ({"status": 404, "error": {"type": "index_not_found_exception"}}, PERMANENT),
        ({"status": 409, "error": {"type": "something_else"}}, PERMANENT),
    ],
)
def test_each_item_is_classified_by_what_happens_next(item, kind):
    assert classify_item(item).kind == kind


def test_permanent_items_keep_type_and_reason():
    item = {"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "bad"}}
    outcome = classify_item(item)
    assert (outcome.status, outcome.error_type, outcome.reason) == (
        400,
        "mapper_parsing_exception",
        "bad",
    )


def test_partial_failure_splits_positions():
    items = [
        {"status": 201},
        {"status": 429, "error": {"type": "es_rejected_execution_exception"}},
        {"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "r"}},
        {"status": 409, "error": {"type": "version_conflict_engine_exception"}},
    ]
    outcome = classify(items, expected=4)
    assert outcome.stored == [0, 3]
    assert outcome.retryable == [1]
    assert [position for position, _ in outcome.permanent] == [2]


def test_missing_items_are_retried_never_dropped():
    outcome = classify([{"status": 201}], expected=3)
    assert outcome.stored == [0]
    assert outcome.retryable == [1, 2]
