"""The OpenAPI document: valid, served, true to the routes and to the log contract."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import settings as run_with
from hypothesis import strategies as st
from openapi_spec_validator import validate

from app import openapi
from app.openapi import LEVEL_PATTERN, build_document
from common.config import Settings
from common.schema import LEVEL_ALIASES, LEVELS, LogSchema, normalize

INGEST_STATUSES = {"202", "400", "413", "415", "429", "503"}


@pytest.fixture
def document(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def test_served_document_is_valid_openapi_3_1(document):
    validate(document)
    assert document["openapi"] == "3.1.0"


@pytest.mark.parametrize(
    "overrides",
    [
        {"api_keys": ("k",)},
        {"api_keys": ("k",), "health_detailed_requires_key": True, "rate_limit": "5/second"},
    ],
)
def test_document_is_valid_with_keys_and_rate_limits(overrides):
    validate(build_document(Settings(**overrides)))


def test_every_documented_operation_is_a_route(app: Flask, document):
    routes = {(rule.rule, method) for rule in app.url_map.iter_rules() for method in rule.methods}
    documented = {(path, m.upper()) for path, ops in document["paths"].items() for m in ops}
    assert documented == {
        ("/api/v1/logs", "POST"),
        ("/v1/logs", "POST"),
        ("/metrics", "GET"),
        ("/health", "GET"),
        ("/health/detailed", "GET"),
        ("/api/v1/openapi.json", "GET"),
    }
    assert documented <= routes


def test_ingest_documents_every_status_it_can_return(document):
    ingest = document["paths"]["/api/v1/logs"]["post"]
    assert set(ingest["responses"]) == INGEST_STATUSES
    for status in ("429", "503"):
        assert "Retry-After" in ingest["responses"][status]["headers"]
    assert set(ingest["requestBody"]["content"]) == {"application/json", "application/x-ndjson"}


def test_401_is_documented_only_where_keys_are_needed():
    paths = build_document(Settings(api_keys=("k",)))["paths"]
    assert "401" in paths["/api/v1/logs"]["post"]["responses"]
    assert "401" in paths["/api/v1/openapi.json"]["get"]["responses"]
    assert "401" not in paths["/health"]["get"]["responses"]
    assert "401" not in paths["/health/detailed"]["get"]["responses"]
    assert "401" not in build_document(Settings())["paths"]["/api/v1/logs"]["post"]["responses"]


def test_log_schema_mirrors_the_marshmallow_contract(document):
    log = document["components"]["schemas"]["Log"]
    fields = LogSchema().fields
    assert set(log["properties"]) == set(fields)
    assert set(log["required"]) == {name for name, field in fields.items() if field.required}
    assert log["additionalProperties"] is False
    assert log["properties"]["id"]["pattern"] == "^[A-Za-z0-9._:-]{1,128}$"


def test_limits_come_from_the_apps_settings():
    settings = Settings(max_message_length=100, max_tags=3, max_batch=7)
    document = build_document(settings)
    log = document["components"]["schemas"]["Log"]["properties"]
    assert log["message"]["maxLength"] == 100
    assert log["tags"]["maxItems"] == 3
    body = document["paths"]["/api/v1/logs"]["post"]["requestBody"]["content"]
    [_one, batch] = body["application/json"]["schema"]["oneOf"]
    assert batch["maxItems"] == 7


def test_document_is_built_once_per_app(app: Flask, client, monkeypatch):
    built = app.extensions[openapi.EXTENSION]

    def fail(settings: Settings) -> dict:
        raise AssertionError("built per request")

    monkeypatch.setattr(openapi, "build_document", fail)
    assert client.get("/api/v1/openapi.json").data == built
    assert client.get("/api/v1/openapi.json").data == built


@run_with(derandomize=True, database=None)
@given(st.from_regex(LEVEL_PATTERN, fullmatch=True))
def test_every_level_the_document_allows_is_accepted(level):
    log = normalize({"level": level, "service": "s", "message": "m"})
    assert log["level"] in LEVELS


def test_the_level_pattern_names_every_level_and_alias():
    for name in (*LEVELS, *LEVEL_ALIASES):
        assert re.fullmatch(LEVEL_PATTERN, name)
        assert re.fullmatch(LEVEL_PATTERN, name.upper())
    assert not re.fullmatch(LEVEL_PATTERN, "loud")
