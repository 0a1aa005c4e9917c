"""Configuration: built once from the environment, then passed down.

Nothing else in the project reads ``os.environ``. Every setting has a documented
default (see README, "Configuration"); key and index names are derived here so
that the API, the worker and the CLI agree on them.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

DEFAULT_REDIS_URL = "redis://127.0.0.1:6380/0"
DEFAULT_ELASTICSEARCH_URL = "http://127.0.0.1:9201"
DEFAULT_STREAM_KEY = "logs:stream"
DEFAULT_DLQ_KEY = "logs:failed"
DEFAULT_CONSUMER_GROUP = "stealthflow-log-workers"

_INDEX_PART = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class ConfigError(ValueError):
    """A setting has a value the service cannot run with."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be > 0, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _api_keys(env: Mapping[str, str]) -> tuple[str, ...]:
    """``API_KEYS`` (comma-separated) and/or ``API_KEYS_FILE`` (one key a line, # comments)."""
    keys = [k.strip() for k in env.get("API_KEYS", "").split(",")]
    path = env.get("API_KEYS_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                keys += [line.split("#", 1)[0].strip() for line in handle]
        except OSError as exc:
            raise ConfigError(f"API_KEYS_FILE cannot be read: {exc}") from None
    return tuple(dict.fromkeys(k for k in keys if k))


def _index_part(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name) or default
    if not _INDEX_PART.match(value):
        raise ConfigError(
            f"{name} must be lowercase letters, digits, '_' or '-' (it is part of "
            f"an Elasticsearch index name), got {value!r}"
        )
    return value


def default_consumer_name() -> str:
    """Unique per process, so several workers (or `--scale`) never share a name."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class Settings:
    redis_url: str = DEFAULT_REDIS_URL
    elasticsearch_url: str = DEFAULT_ELASTICSEARCH_URL
    environment: str = "develop"
    index_prefix: str = "stealthflow"
    key_prefix: str = ""
    stream_name: str = DEFAULT_STREAM_KEY
    dlq_name: str = DEFAULT_DLQ_KEY
    consumer_group: str = DEFAULT_CONSUMER_GROUP
    consumer_name: str = field(default_factory=default_consumer_name)
    batch_size: int = 200
    worker_threads: int = 2
    block_ms: int = 2000
    redis_socket_timeout: float = 1.0
    elasticsearch_timeout: float = 30.0
    claim_idle_ms: int = 60_000
    max_deliveries: int = 5
    housekeeping_interval_s: float = 15.0
    consumer_idle_ms: int = 3_600_000
    fallback_dir: str = "logs/fallback"
    spool_max_bytes: int = 64 * 1024 * 1024
    spool_max_age_s: float = 300.0
    spool_idle_close_s: float = 5.0
    fallback_auto_replay: bool = True
    retry_backoff_max_s: float = 30.0
    max_content_length: int = 5 * 1024 * 1024
    max_decompressed_length: int = 20 * 1024 * 1024
    max_batch: int = 1000
    max_message_length: int = 32 * 1024
    max_context_bytes: int = 64 * 1024
    max_context_depth: int = 10
    max_tags: int = 50
    stream_high_water: int = 1_000_000
    retry_after_s: int = 5
    api_keys: tuple[str, ...] = ()
    rate_limit: str = ""
    health_detailed_requires_key: bool = False
    health_max_backlog: int = 100_000
    health_max_dlq_growth: int = 100
    health_max_error_rate: float = 0.05
    health_window_s: int = 300
    prometheus_multiproc_dir: str | None = None
    worker_metrics_port: int = 9102
    access_log: bool = False
    log_level: str = "INFO"

    @property
    def stream_key(self) -> str:
        return f"{self.key_prefix}{self.stream_name}"

    @property
    def dlq_key(self) -> str:
        return f"{self.key_prefix}{self.dlq_name}"

    @property
    def index_alias(self) -> str:
        """The read alias Kibana and searches use, e.g. ``stealthflow_develop_logs``."""
        return f"{self.index_prefix}_{self.environment}_logs"

    @property
    def index_pattern(self) -> str:
        return f"{self.index_alias}-*"

    @property
    def template_name(self) -> str:
        return self.index_alias

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def as_env(settings: Settings) -> dict[str, str]:
    """The environment under which another process (a worker, gunicorn, the CLI)
    builds settings naming the same services, keys, indices and spool."""
    return {
        "REDIS_URL": settings.redis_url,
        "ELASTICSEARCH_URL": settings.elasticsearch_url,
        "KEY_PREFIX": settings.key_prefix,
        "STREAM_KEY": settings.stream_name,
        "DLQ_KEY": settings.dlq_name,
        "CONSUMER_GROUP": settings.consumer_group,
        "INDEX_PREFIX": settings.index_prefix,
        "STEALTHFLOW_ENV": settings.environment,
        "FALLBACK_DIR": settings.fallback_dir,
    }


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    return Settings(
        redis_url=env.get("REDIS_URL") or DEFAULT_REDIS_URL,
        elasticsearch_url=env.get("ELASTICSEARCH_URL") or DEFAULT_ELASTICSEARCH_URL,
        environment=_index_part(env, "STEALTHFLOW_ENV", "develop"),
        index_prefix=_index_part(env, "INDEX_PREFIX", "stealthflow"),
        key_prefix=env.get("KEY_PREFIX", ""),
        stream_name=env.get("STREAM_KEY") or DEFAULT_STREAM_KEY,
        dlq_name=env.get("DLQ_KEY") or DEFAULT_DLQ_KEY,
        consumer_group=env.get("CONSUMER_GROUP") or DEFAULT_CONSUMER_GROUP,
        consumer_name=env.get("WORKER_NAME") or default_consumer_name(),
        batch_size=_int(env, "LOG_BATCH_SIZE", 200, minimum=1),
        worker_threads=_int(env, "WORKER_THREADS", 2, minimum=1),
        block_ms=_int(env, "LOG_BLOCK_MS", 2000, minimum=1),
        redis_socket_timeout=_float(env, "REDIS_SOCKET_TIMEOUT", 1.0),
        elasticsearch_timeout=_float(env, "ELASTICSEARCH_TIMEOUT", 30.0),
        claim_idle_ms=_int(env, "CLAIM_IDLE_MS", 60_000, minimum=1),
        max_deliveries=_int(env, "MAX_DELIVERIES", 5, minimum=1),
        housekeeping_interval_s=_float(env, "HOUSEKEEPING_INTERVAL", 15.0),
        consumer_idle_ms=_int(env, "CONSUMER_IDLE_MS", 3_600_000, minimum=1),
        fallback_dir=env.get("FALLBACK_DIR") or "logs/fallback",
        spool_max_bytes=_int(env, "SPOOL_MAX_BYTES", 64 * 1024 * 1024, minimum=1024),
        spool_max_age_s=_float(env, "SPOOL_MAX_AGE", 300.0),
        spool_idle_close_s=_float(env, "SPOOL_IDLE_CLOSE", 5.0),
        fallback_auto_replay=_bool(env, "FALLBACK_AUTO_REPLAY", True),
        retry_backoff_max_s=_float(env, "RETRY_BACKOFF_MAX", 30.0),
        max_content_length=_int(env, "MAX_CONTENT_LENGTH", 5 * 1024 * 1024, minimum=1024),
        max_decompressed_length=_int(env, "MAX_DECOMPRESSED_LENGTH", 20 * 1024 * 1024, 1024),
        max_batch=_int(env, "LOG_MAX_BATCH", 1000, minimum=1),
        max_message_length=_int(env, "LOG_MAX_MESSAGE_LENGTH", 32 * 1024, minimum=1),
        max_context_bytes=_int(env, "LOG_MAX_CONTEXT_BYTES", 64 * 1024, minimum=2),
        # The context is a flattened field whose depth limit is 20: stay below it.
        max_context_depth=min(_int(env, "LOG_MAX_CONTEXT_DEPTH", 10, minimum=1), 20),
        max_tags=_int(env, "LOG_MAX_TAGS", 50, minimum=0),
        stream_high_water=_int(env, "STREAM_HIGH_WATER", 1_000_000, minimum=1),
        retry_after_s=_int(env, "RETRY_AFTER", 5, minimum=1),
        api_keys=_api_keys(env),
        rate_limit=env.get("RATE_LIMIT", "").strip(),
        health_detailed_requires_key=_bool(env, "HEALTH_DETAILED_REQUIRES_KEY", False),
        health_max_backlog=_int(env, "HEALTH_MAX_BACKLOG", 100_000, minimum=1),
        health_max_dlq_growth=_int(env, "HEALTH_MAX_DLQ_GROWTH", 100, minimum=1),
        health_max_error_rate=_float(env, "HEALTH_MAX_ERROR_RATE", 0.05),
        health_window_s=_int(env, "HEALTH_WINDOW", 300, minimum=60),
        prometheus_multiproc_dir=env.get("PROMETHEUS_MULTIPROC_DIR") or None,
        worker_metrics_port=_int(env, "WORKER_METRICS_PORT", 9102, minimum=0),
        access_log=_bool(env, "ACCESS_LOG", False),
        log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
    )
