"""A deterministic, realistic workload of client logs (pure code, no I/O).

The same ``seed`` and ``count`` always give the same logs, byte for byte. What the
logs look like: a handful of services, levels weighted like production (mostly
info, some debug and warnings, a few errors), messages from a short line to a
multi-line stack trace, 5-15 context fields of mixed types (sometimes nested), and
the optional fields clients often send (host, environment, trace and span ids,
request id, tags). Every log carries an ``id`` (so it is stored once, and the same
documents can be indexed in every phase) and a ``timestamp`` within one UTC day.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

SERVICES = ("checkout", "search", "auth", "inventory", "payments", "gateway", "mailer", "billing")
ENVIRONMENTS = ("production", "production", "production", "staging")
# As clients send them: mostly canonical, some aliases and capitals.
LEVELS = ("info", "INFO", "debug", "warn", "warning", "error", "ERROR", "trace", "critical")
LEVEL_WEIGHTS = (52, 6, 15, 8, 4, 9, 1, 3, 2)
TAGS = ("web", "api", "cron", "k8s", "canary", "eu-west-1", "us-east-1", "v2")
WORDS = [
    "order",
    "user",
    "cart",
    "item",
    "payment",
    "card",
    "token",
    "session",
    "cache",
    "query",
    "index",
    "shard",
    "retry",
    "timeout",
    "request",
    "response",
    "upstream",
    "downstream",
    "connection",
    "pool",
    "queue",
    "message",
    "batch",
    "flush",
    "commit",
    "lock",
    "lease",
    "replica",
    "primary",
    "worker",
    "job",
    "schedule",
    "invoice",
    "refund",
    "customer",
    "account",
    "region",
    "latency",
    "budget",
    "quota",
    "limit",
    "threshold",
    "feature",
    "flag",
    "rollout",
    "deploy",
    "config",
    "secret",
]
PATHS = ("/api/v1/orders", "/api/v1/users", "/api/v2/search", "/login", "/cart", "/health")
METHODS = ("GET", "GET", "GET", "POST", "PUT", "DELETE")
DAY_START = datetime(2026, 12, 4, 0, 0, tzinfo=UTC)
DAY_MS = 24 * 3600 * 1000


def _words(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def _stack_trace(rng: random.Random) -> str:
    frames = [
        f'  File "/srv/app/{rng.choice(WORDS)}/{rng.choice(WORDS)}.py", line {rng.randint(1, 900)},'
        f" in {rng.choice(WORDS)}_{rng.choice(WORDS)}\n    {_words(rng, 3, 9)}"
        for _ in range(rng.randint(4, 25))
    ]
    error = rng.choice(("ValueError", "KeyError", "TimeoutError", "ConnectionResetError"))
    return (
        "Traceback (most recent call last):\n"
        + "\n".join(frames)
        + f"\n{error}: "
        + _words(rng, 2, 8)
    )


def message(rng: random.Random) -> str:
    """From ~30 characters to a few KB: access lines, sentences, JSON-ish, stack traces."""
    kind = rng.random()
    if kind < 0.40:
        return (
            f"{rng.choice(METHODS)} {rng.choice(PATHS)}/{rng.randint(1, 99999)} "
            f"{rng.choice((200, 200, 201, 204, 302, 400, 404, 500, 503))} "
            f"in {rng.randint(1, 2500)}ms"
        )
    if kind < 0.80:
        return _words(rng, 4, 30)
    if kind < 0.96:
        pairs = " ".join(f"{rng.choice(WORDS)}={rng.randint(0, 10**6)}" for _ in range(12))
        return f"{_words(rng, 3, 8)}: {pairs} {_words(rng, 10, 60)}"
    return f"unhandled error in {rng.choice(WORDS)}\n{_stack_trace(rng)}"


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.random()
    if kind < 0.30:
        return rng.randint(0, 10**7)
    if kind < 0.60:
        return _words(rng, 1, 4)
    if kind < 0.70:
        return round(rng.uniform(0, 5000), 3)
    if kind < 0.78:
        return rng.random() < 0.5
    if kind < 0.88:
        return [rng.randint(0, 1000) for _ in range(rng.randint(1, 5))]
    if depth < 2:
        return {rng.choice(WORDS): _value(rng, depth + 1) for _ in range(rng.randint(1, 4))}
    return None


def context(rng: random.Random) -> dict[str, Any]:
    """5-15 application fields of mixed types, sometimes nested two levels."""
    fields: dict[str, Any] = {}
    for _ in range(rng.randint(5, 15)):
        name = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}"
        while name in fields:
            name += "_x"
        fields[name] = _value(rng)
    return fields


def make_log(rng: random.Random, number: int, seed: int) -> dict[str, Any]:
    """One client log, as an application would send it."""
    moment = DAY_START + timedelta(milliseconds=rng.randrange(DAY_MS))
    log: dict[str, Any] = {
        "id": f"bench-{seed}-{number:08d}",
        "timestamp": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "level": rng.choices(LEVELS, LEVEL_WEIGHTS)[0],
        "service": rng.choice(SERVICES),
        "message": message(rng),
        "context": context(rng),
    }
    if rng.random() < 0.9:
        log["environment"] = rng.choice(ENVIRONMENTS)
        log["host"] = f"{log['service']}-{rng.randint(1, 12)}.internal"
    if rng.random() < 0.6:
        log["trace_id"] = f"{rng.getrandbits(128):032x}"
        log["span_id"] = f"{rng.getrandbits(64):016x}"
    if rng.random() < 0.5:
        log["request_id"] = f"req-{rng.getrandbits(48):012x}"
    if rng.random() < 0.4:
        log["tags"] = rng.sample(TAGS, rng.randint(1, 3))
    return log


def generate(count: int, seed: int = 42) -> Iterator[dict[str, Any]]:
    """``count`` client logs, the same for the same ``seed``."""
    rng = random.Random(seed)
    for number in range(count):
        yield make_log(rng, number, seed)


def logs(count: int, seed: int = 42) -> list[dict[str, Any]]:
    return list(generate(count, seed))
