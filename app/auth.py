"""API keys and per-key rate limits; both are off until configured.

Keys (``API_KEYS`` / ``API_KEYS_FILE``): every request but ``/health`` (and
``/health/detailed`` unless ``HEALTH_DETAILED_REQUIRES_KEY``) needs one, as
``Authorization: Bearer <key>`` or ``X-API-Key: <key>``, or gets 401. Keys are
never logged nor echoed: logs and rate-limit buckets use a key's fingerprint.

Rate limits (``RATE_LIMIT``, e.g. ``100/second;5000/minute``): one moving-window
budget per key (per client address when keys are off) over all routes but
``/health``, counted in Redis so all gunicorn processes share it. If that Redis is
unreachable requests pass unlimited: logs must still be accepted (and spooled).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, g, request
from flask_limiter import Limiter, RateLimitExceeded
from limits import parse_many
from limits.errors import StorageError

from app.errors import error_response
from common.config import ConfigError, Settings

log = logging.getLogger("stealthflow.api")

OPEN_PATH = "/health"
DETAILED_PATH = "/health/detailed"
FINGERPRINT_CHARS = 12


def fingerprint(key: str) -> str:
    """A short, non-reversible name for a key, for logs and rate-limit buckets."""
    return hashlib.sha256(key.encode()).hexdigest()[:FINGERPRINT_CHARS]


class KeyRing:
    """The configured keys, held as SHA-256 digests."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = [(hashlib.sha256(k.encode()).digest(), fingerprint(k)) for k in keys]

    def identify(self, presented: str) -> str | None:
        """The fingerprint of the key equal to ``presented``, or ``None``.

        Equal-length digests, compared with every key without early exit: timing
        reveals neither a key's length nor which key matched.
        """
        digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        found = None
        for candidate, name in self._keys:
            if hmac.compare_digest(digest, candidate):
                found = name
        return found


def _presented_key() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("X-API-Key", "").strip() or None


def _needs_key(settings: Settings) -> bool:
    if request.path == OPEN_PATH:
        return False
    return request.path != DETAILED_PATH or settings.health_detailed_requires_key


def _require_keys(app: Flask, settings: Settings) -> None:
    ring = KeyRing(settings.api_keys)

    @app.before_request
    def authenticate() -> Response | None:
        presented = _presented_key()
        key_id = ring.identify(presented) if presented else None
        if key_id is not None:
            g.api_key_id = key_id
            return None
        if not _needs_key(settings):
            return None
        reason = "invalid key" if presented else "no key"
        log.info("unauthorized %s %s (%s)", request.method, request.path, reason)
        return error_response(
            401,
            "unauthorized",
            "A valid API key is required (Authorization: Bearer <key>, or X-API-Key).",
            headers={"WWW-Authenticate": "Bearer"},
        )


def _client_id() -> str:
    """Whose budget a request spends: its key's fingerprint, else its address."""
    key_id: str | None = g.get("api_key_id")
    return f"key:{key_id}" if key_id else f"addr:{request.remote_addr or 'unknown'}"


def _retry_after(limiter: Limiter, exc: RateLimitExceeded) -> int:
    """Whole seconds until the breached window has room again (at least 1)."""
    breached = limiter.current_limit
    try:
        reset = breached.window.reset_time if breached else None
    except StorageError:  # Redis went away after the hit: fall back to the window
        reset = None
    wait = exc.limit.limit.get_expiry() if reset is None else math.ceil(reset - time.time())
    return max(1, wait)


def _limit_rates(app: Flask, settings: Settings) -> None:
    try:
        parse_many(settings.rate_limit)
    except ValueError:
        raise ConfigError(f"RATE_LIMIT is not a rate limit: {settings.rate_limit!r}") from None
    # Short timeouts: a sick Redis must not hold requests.
    timeout = settings.redis_socket_timeout
    storage: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    storage.update(key_prefix=f"{settings.key_prefix}ratelimit", wrap_exceptions=True)
    limiter = Limiter(
        _client_id,
        application_limits=[settings.rate_limit],
        application_limits_exempt_when=lambda: request.path == OPEN_PATH,
        strategy="moving-window",
        storage_uri=settings.redis_url,
        storage_options=storage,
        swallow_errors=True,
        # While its Redis is down, count in this process instead: limits still hold
        # roughly, and the storage is retried periodically rather than on every request.
        in_memory_fallback_enabled=True,
        headers_enabled=False,
    )
    limiter.init_app(app)

    @app.errorhandler(RateLimitExceeded)
    def rate_limited(exc: RateLimitExceeded) -> Response:
        seconds = _retry_after(limiter, exc)
        return error_response(
            429,
            "rate_limited",
            f"Rate limit exceeded ({exc.description}); retry in {seconds} s.",
            headers={"Retry-After": str(seconds)},
        )


def register(app: Flask, settings: Settings) -> None:
    """Install key checks, then rate limits (so a request's key is known when counted)."""
    if settings.api_keys:
        _require_keys(app, settings)
    if settings.rate_limit:
        _limit_rates(app, settings)
