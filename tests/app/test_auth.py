"""API keys and per-key rate limits, against the real Redis (and a closed port)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.auth import fingerprint
from common.config import ConfigError, Settings
from tests.helpers import free_port

LOG = {"message": "m", "level": "info", "service": "s"}
KEYS = ("k1-secret-value", "k2-secret-value")
MakeApp = Callable[[Settings], Flask]


def _client(make_app: MakeApp, settings: Settings, **overrides: object) -> FlaskClient:
    return make_app(settings.with_overrides(**overrides)).test_client()


def _post(client: FlaskClient, key: str | None = None, header: str = "bearer") -> int:
    headers = {}
    if key is not None:
        headers = {"Authorization": f"Bearer {key}"} if header == "bearer" else {"X-API-Key": key}
    return client.post("/api/v1/logs", json=LOG, headers=headers).status_code


def test_open_by_default(make_app: MakeApp, settings: Settings) -> None:
    assert _post(make_app(settings).test_client()) == 202


@pytest.mark.parametrize("key", [None, "wrong-secret-value", KEYS[0] + "x", ""])
def test_missing_or_wrong_key_is_401_without_echo(
    make_app: MakeApp, settings: Settings, key: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    client = _client(make_app, settings, api_keys=KEYS)
    with caplog.at_level(logging.DEBUG):
        response = client.post(
            "/api/v1/logs", json=LOG, headers={"X-API-Key": key} if key is not None else {}
        )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    error = response.get_json()["error"]
    assert error["code"] == "unauthorized"
    assert set(error) <= {"code", "message", "details"}
    for secret in (*KEYS, "wrong-secret-value"):
        assert secret not in response.get_data(as_text=True)
        assert secret not in caplog.text


@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
def test_both_header_forms_and_every_key_are_accepted(
    make_app: MakeApp, settings: Settings, header: str
) -> None:
    client = _client(make_app, settings, api_keys=KEYS)
    assert [_post(client, key, header) for key in KEYS] == [202, 202]


def test_bearer_scheme_is_case_insensitive(make_app: MakeApp, settings: Settings) -> None:
    client = _client(make_app, settings, api_keys=KEYS)
    headers = {"Authorization": f"bearer {KEYS[1]}"}
    assert client.post("/api/v1/logs", json=LOG, headers=headers).status_code == 202


def test_unknown_route_is_404_with_a_key_and_401_without(
    make_app: MakeApp, settings: Settings
) -> None:
    client = _client(make_app, settings, api_keys=KEYS)
    assert client.get("/nope", headers={"X-API-Key": KEYS[0]}).status_code == 404
    assert client.get("/nope").status_code == 401


def test_health_is_always_open(make_app: MakeApp, settings: Settings) -> None:
    client = _client(make_app, settings, api_keys=KEYS, health_detailed_requires_key=True)
    assert client.get("/health").status_code == 200


@pytest.mark.parametrize("requires_key", [False, True])
def test_health_detailed_follows_the_flag(
    make_app: MakeApp, settings: Settings, requires_key: bool
) -> None:
    client = _client(make_app, settings, api_keys=KEYS, health_detailed_requires_key=requires_key)
    assert client.get("/health/detailed").status_code == (401 if requires_key else 200)
    assert client.get("/health/detailed", headers={"X-API-Key": KEYS[0]}).status_code == 200


def test_fingerprint_is_short_and_not_the_key() -> None:
    assert len(fingerprint(KEYS[0])) == 12
    assert fingerprint(KEYS[0]) != fingerprint(KEYS[1])
    assert KEYS[0] not in fingerprint(KEYS[0])


def test_rate_limit_is_429_with_retry_after(make_app: MakeApp, settings: Settings) -> None:
    client = _client(make_app, settings, api_keys=KEYS, rate_limit="3/minute")
    assert [_post(client, KEYS[0]) for _ in range(3)] == [202, 202, 202]
    response = client.post("/api/v1/logs", json=LOG, headers={"X-API-Key": KEYS[0]})
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert KEYS[0] not in response.get_data(as_text=True)


def test_each_key_has_its_own_budget(make_app: MakeApp, settings: Settings) -> None:
    client = _client(make_app, settings, api_keys=KEYS, rate_limit="2/minute")
    assert [_post(client, KEYS[0]) for _ in range(3)] == [202, 202, 429]
    assert [_post(client, KEYS[1]) for _ in range(3)] == [202, 202, 429]


def test_without_keys_each_address_has_its_own_budget(
    make_app: MakeApp, settings: Settings
) -> None:
    client = _client(make_app, settings, rate_limit="2/minute")
    assert [_post(client) for _ in range(3)] == [202, 202, 429]
    other = client.post("/api/v1/logs", json=LOG, environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code == 202


def test_health_is_not_rate_limited(make_app: MakeApp, settings: Settings) -> None:
    client = _client(make_app, settings, rate_limit="1/minute")
    assert [client.get("/health").status_code for _ in range(3)] == [200, 200, 200]


def test_limits_are_shared_by_processes_on_one_redis(make_app: MakeApp, settings: Settings) -> None:
    limited = settings.with_overrides(api_keys=KEYS, rate_limit="3/minute")
    first, second = make_app(limited).test_client(), make_app(limited).test_client()
    assert [_post(c, KEYS[0]) for c in (first, second, first)] == [202, 202, 202]
    assert _post(second, KEYS[0]) == 429


def test_limiter_counts_in_memory_when_its_redis_is_down(
    make_app: MakeApp, settings: Settings
) -> None:
    """No 5xx and no lost log when the limiter's Redis is gone: logs within the
    limit are accepted (spooled), the limit is still applied per process."""
    down = f"redis://127.0.0.1:{free_port()}/15"
    client = _client(make_app, settings, redis_url=down, api_keys=KEYS, rate_limit="2/minute")
    for _ in range(2):
        response = client.post("/api/v1/logs", json=LOG, headers={"X-API-Key": KEYS[0]})
        assert response.status_code == 202
        assert response.get_json()["spooled"] is True
    over = client.post("/api/v1/logs", json=LOG, headers={"X-API-Key": KEYS[0]})
    assert over.status_code == 429


def test_invalid_rate_limit_is_a_config_error(make_app: MakeApp, settings: Settings) -> None:
    with pytest.raises(ConfigError, match="RATE_LIMIT"):
        make_app(settings.with_overrides(rate_limit="lots"))
