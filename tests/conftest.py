"""Fixtures for tests on the real services.

Every test gets its own ``Settings``: a unique Redis key prefix in database 15 and
a unique index prefix, so tests never see each other's data nor that of a
running ``make run`` (database 0, ``stealthflow_develop_logs``). The services are
the ones ``scripts/services.sh up`` provides, or those ``REDIS_URL`` /
``ELASTICSEARCH_URL`` name. If they are not reachable the tests fail, loudly.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from elasticsearch import Elasticsearch
from flask import Flask

from app import create_app
from common.config import Settings, load_settings
from common.elastic import make_elasticsearch
from common.redis_client import make_redis
from common.stream import LogStream

TEST_INDEX_PREFIX = "sftest"
# One id per pytest session: a session cleans up only its own keys and indices, so
# concurrent sessions (several developers, a helper's run) never wipe each other's.
SESSION = uuid.uuid4().hex[:6]
TEST_REDIS_DB = 15


def _test_redis_url(url: str) -> str:
    """The same server, database 15."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{TEST_REDIS_DB}"))


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    settings = load_settings()
    return settings.with_overrides(
        redis_url=os.environ.get("TEST_REDIS_URL") or _test_redis_url(settings.redis_url),
        index_prefix=TEST_INDEX_PREFIX,
        block_ms=200,
    )


@pytest.fixture(scope="session")
def redis_client(base_settings: Settings) -> Iterator[redis.Redis]:
    client = make_redis(base_settings, blocking_ms=base_settings.block_ms)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis at {base_settings.redis_url} is not reachable ({exc}); "
            "run `scripts/services.sh up` or set REDIS_URL"
        )
    yield client
    for key in client.scan_iter(match=f"sftest:{SESSION}:*", count=1000):
        client.delete(key)


@pytest.fixture(scope="session")
def es(base_settings: Settings) -> Iterator[Elasticsearch]:
    client = make_elasticsearch(base_settings)
    try:
        client.cluster.health(wait_for_status="yellow", timeout="30s")
    except Exception as exc:
        pytest.fail(
            f"Elasticsearch at {base_settings.elasticsearch_url} is not reachable "
            f"({exc}); run `scripts/services.sh up` or set ELASTICSEARCH_URL"
        )
    yield client
    own = f"{TEST_INDEX_PREFIX}_s{SESSION}*"
    client.indices.delete(index=own, ignore_unavailable=True)
    client.options(ignore_status=404).indices.delete_index_template(name=own)


@pytest.fixture
def settings(
    base_settings: Settings, redis_client: redis.Redis, es: Elasticsearch, tmp_path: Path
) -> Settings:
    """Fresh, isolated names for one test: its own stream, DLQ, group and alias."""
    run = uuid.uuid4().hex[:10]
    return base_settings.with_overrides(
        key_prefix=f"sftest:{SESSION}:{run}:",
        environment=f"s{SESSION}t{run}",
        consumer_name=f"test-worker-{run}",
        fallback_dir=str(tmp_path / "fallback"),
    )


@pytest.fixture
def stream(settings: Settings, redis_client: redis.Redis) -> LogStream:
    return LogStream(redis_client, settings)


@pytest.fixture
def make_app() -> Iterator[Callable[[Settings], Flask]]:
    """``create_app`` whose per-process resources are released after the test."""
    made: list[Flask] = []

    def make(settings: Settings) -> Flask:
        application = create_app(settings)
        application.config["TESTING"] = True
        made.append(application)
        return application

    yield make
    for application in made:
        application.extensions["stealthflow"].close()


@pytest.fixture
def app(settings: Settings, make_app: Callable[[Settings], Flask]) -> Flask:
    return make_app(settings)
