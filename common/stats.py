"""One look at the whole pipeline, for ``manage.py stats``."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

from common.config import Settings
from common.dlq import DeadLetterQueue
from common.errors import TransientError
from common.retention import daily_indices
from common.spool import spool_size
from common.stream import LogStream


def gather(
    stream: LogStream, dlq: DeadLetterQueue, es: Elasticsearch, settings: Settings
) -> dict[str, Any]:
    """Stream, consumers, DLQ by error type, spool and indices; Elasticsearch being
    down leaves its part empty with the reason, Redis being down raises."""
    found: dict[str, Any] = {
        "stream": {
            "key": stream.key,
            "group": stream.group,
            "length": stream.length(),
            "pending": stream.pending_count(),
            "backlog": stream.backlog(),
            "consumers": stream.consumers(),
        },
        "recent": {"window_s": settings.health_window_s}
        | stream.recent_outcomes(settings.health_window_s),
        "dlq": {
            "key": dlq.key,
            "length": stream.dlq_length(),
            "by_error_type": {name: group.count for name, group in dlq.summary().items()},
        },
        "spool": {"dir": settings.fallback_dir, **spool_size(settings.fallback_dir)},
    }
    try:
        indices = daily_indices(es, settings)
        found["indices"] = {"alias": settings.index_alias, "docs": indices}
    except TransientError as exc:
        found["indices"] = {"alias": settings.index_alias, "error": str(exc)}
    return found
