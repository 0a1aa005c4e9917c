"""The project's error hierarchy, classified by what the caller does next.

- ``TransientError``: a dependency is unavailable or overloaded (connection refused,
  timeout, 429, 5xx). Nothing is acknowledged; the work is retried later.
- ``PermanentError``: this input can never be stored as it is (it fails the schema,
  cannot be decoded, or Elasticsearch rejects it with a 4xx). It goes to the
  dead-letter stream with the reason, then is acknowledged.

Adapters convert third-party exceptions into these at the boundary, so the API
and the worker loop never import ``redis.exceptions`` or ``elasticsearch``.
Anything else is a bug: it is logged with its traceback and the process is
restarted by its supervisor.
"""

from __future__ import annotations


class StealthflowError(Exception):
    """Root of every error this project raises on purpose."""


class TransientError(StealthflowError):
    """Retry later; never acknowledge, never dead-letter."""


class RedisUnavailable(TransientError):
    """Redis refused, timed out, or answered with a server-side error."""


class ElasticsearchUnavailable(TransientError):
    """Elasticsearch refused, timed out, or answered 429/5xx to the whole request."""


class PermanentError(StealthflowError):
    """This input can never be stored as it is."""


class InvalidEntry(PermanentError):
    """A stream entry that cannot be decoded or fails the log contract."""
