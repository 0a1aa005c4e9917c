"""schemathesis against the app, through WSGI, on the real Redis and Elasticsearch.

Each documented operation gets requests generated from the app's own document:
valid ones (``positive``) and, for the ingest route, invalid ones (``negative``).
Every response must be no 5xx, and its status, content type, headers and body
must be as documented; every schema-valid JSON body must be accepted. A 202 must
have put exactly the acknowledged ids at the end of this test's own stream, and
any other answer nothing. Runs are derandomized: the same cases every time.

The cases are driven by plain ``hypothesis.given`` over ``as_strategy`` rather
than ``schema.parametrize()``, whose fixture-based form does not run on pytest
9.2 (it sets ``Function._nodeid``, which pytest no longer has).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given
from hypothesis import settings as run_with
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from common.config import Settings
from common.schema import load_stored
from common.stream import LogStream

JSON, NDJSON = "application/json", "application/x-ndjson"
POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
KEY = "fuzz-key"
# Same cases every run; nothing saved between runs; the real services set the pace.
REPEATABLE = run_with(
    derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@schemathesis.serializer(NDJSON)
def _ndjson(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    """The document types an NDJSON body as text; negative cases may be any JSON value."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, bytes):
        return value
    return json.dumps(value).encode()  # orjson refuses integers past 64 bits


def _check_stored(data: bytes) -> None:
    """The worker would take this entry (``load_stored`` passes)."""
    load_stored(json.loads(data))


def _tail_ids(stream: LogStream, count: int) -> list[str]:
    """Ids of the newest ``count`` entries, oldest first."""
    newest = stream.client.xrevrange(stream.key, count=count)
    for _entry, fields in newest:
        _check_stored(fields[b"data"])
    return [fields[b"id"].decode() for _entry, fields in reversed(newest)]


def _check_stream(stream: LogStream, before: int, status: int, body: Any) -> None:
    """A 202's ids, and only those, are the newest entries of the stream, in the form the
    worker will accept."""
    after = stream.client.xlen(stream.key)
    if status != 202:
        assert after == before, f"a {status} answer added {after - before} stream entries"
        return
    assert "spooled" not in body, "Redis is up: nothing should be spooled"
    ids = [body["id"]] if "id" in body else body["ids"]
    assert after - before == len(ids)
    assert _tail_ids(stream, len(ids)) == ids


def fuzz(
    app: Flask, stream: LogStream, method: str, path: str, mode: GenerationMode, examples: int
) -> Counter[str]:
    """Run ``examples`` generated cases; ``"<media type> <status>"`` → how many."""
    operation = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)[path][method]
    seen: Counter[str] = Counter()

    @given(case=operation.as_strategy(mode))
    @run_with(REPEATABLE, max_examples=examples)
    def answers(case: Any) -> None:
        before = stream.client.xlen(stream.key)
        # Any text is a schema-valid NDJSON body, so only JSON bodies must all be accepted.
        accept = mode is POSITIVE and case.media_type == JSON
        response = case.call_and_validate(
            checks=[*CHECKS, positive_data_acceptance] if accept else CHECKS
        )
        seen[f"{case.media_type or '-'} {response.status_code}"] += 1
        body = response.json() if response.status_code == 202 else None
        _check_stream(stream, before, response.status_code, body)

    answers()
    print(f"\n{method} {path} {mode.value}: {dict(seen)}")
    return seen


@pytest.mark.parametrize(
    ("method", "path", "mode", "examples"),
    [
        ("POST", "/api/v1/logs", POSITIVE, 300),
        ("POST", "/api/v1/logs", NEGATIVE, 200),
        ("GET", "/health", POSITIVE, 5),
        ("GET", "/health/detailed", POSITIVE, 5),
        ("GET", "/api/v1/openapi.json", POSITIVE, 5),
    ],
)
def test_answers_as_documented(
    app: Flask, stream: LogStream, method: str, path: str, mode: GenerationMode, examples: int
) -> None:
    seen = fuzz(app, stream, method, path, mode, examples)
    if method == "POST":  # enough distinct cases ran to mean something
        assert sum(seen.values()) >= examples * 0.9
    if mode is POSITIVE and method == "POST":
        assert seen[f"{JSON} 202"] >= examples / 2


def test_without_a_key_every_answer_is_a_documented_401(
    settings: Settings, make_app: Callable[[Settings], Flask], stream: LogStream
) -> None:
    app = make_app(settings.with_overrides(api_keys=(KEY,)))
    client = app.test_client()
    assert client.get("/api/v1/openapi.json").status_code == 401
    # The document itself needs a key: load it with one; the cases carry none, or made-up ones.
    document = client.get("/api/v1/openapi.json", headers={"X-API-Key": KEY}).get_json()
    operation = schemathesis.openapi.from_dict(document)["/api/v1/logs"]["POST"]
    seen: Counter[int] = Counter()

    @given(case=operation.as_strategy(POSITIVE))
    @run_with(REPEATABLE, max_examples=30)
    def answers(case: Any) -> None:
        response = case.call_and_validate(app=app, checks=CHECKS)
        seen[response.status_code] += 1
        assert stream.client.xlen(stream.key) == 0

    answers()
    assert set(seen) == {401}
