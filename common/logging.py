"""The service's own logs: one JSON object per line on stderr."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

# The id of the HTTP request being served, if any: every line logged meanwhile has it.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "@timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "log.level": record.levelname.lower(),
            "log.logger": record.name,
            "message": record.getMessage(),
            "process.pid": record.process,
        }
        current = request_id.get()
        if current:
            event["http.request.id"] = current
        for name in ("event.action", "http.method", "url.path", "http.status", "duration_ms"):
            value = record.__dict__.get(name)
            if value is not None:
                event[name] = value
        if record.exc_info:
            event["error.stack_trace"] = self.formatException(record.exc_info)
        return orjson.dumps(event).decode()


class _JsonHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours, so that configuring twice replaces it and leaves other handlers alone."""


def configure_logging(level: str) -> None:
    handler = _JsonHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _JsonHandler)]
    # gunicorn/pytest may have put a plain stderr handler on the root: ours replaces it.
    root.handlers[:] = [
        h
        for h in root.handlers
        if type(h) is not logging.StreamHandler or h.stream is not sys.stderr
    ]
    root.addHandler(handler)
    root.setLevel(level)
    # One line per HTTP request to Elasticsearch is noise at info level.
    logging.getLogger("elastic_transport").setLevel(max(root.level, logging.WARNING))
