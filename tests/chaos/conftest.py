"""Fixtures of the chaos suite; the figures table is printed at the end of the run."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from common.config import Settings
from tests.chaos.harness import ElasticsearchNode, Processes, RedisServer

ROWS: list[dict[str, object]] = []
COLUMNS = ("scenario", "sent", "accepted", "spooled", "indexed", "duplicates", "missing", "dlq")

# Sized so the whole suite stays well inside CI's limit; CHAOS_LOGS scales it.
CHAOS_LOGS = int(os.environ.get("CHAOS_LOGS", "1500"))

FAST_RECOVERY = {
    "CLAIM_IDLE_MS": "1500",
    "HOUSEKEEPING_INTERVAL": "1",
    "RETRY_BACKOFF_MAX": "2",
    "SPOOL_IDLE_CLOSE": "1",
}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not ROWS:
        return
    terminalreporter.section("chaos figures")
    terminalreporter.write_line(" | ".join(f"{c:>10}" for c in COLUMNS))
    for row in ROWS:
        terminalreporter.write_line(" | ".join(f"{row[c]!s:>10}" for c in COLUMNS))


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def chaos_es() -> Iterator[ElasticsearchNode]:
    node = ElasticsearchNode()
    node.start()
    yield node
    node.cleanup()


@pytest.fixture
def chaos_settings(
    request: pytest.FixtureRequest, settings: Settings, own_redis: RedisServer
) -> Settings:
    changed = settings.with_overrides(redis_url=own_redis.url)
    if "chaos_es" in request.fixturenames:
        changed = changed.with_overrides(elasticsearch_url=request.getfixturevalue("chaos_es").url)
    return changed


@pytest.fixture
def processes(chaos_settings: Settings) -> Iterator[Processes]:
    running = Processes(chaos_settings, **FAST_RECOVERY)
    yield running
    running.stop_all()
