"""Decode stream entries and build the bulk request body (pure code)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from marshmallow import ValidationError

from common.documents import build_document, index_for
from common.errors import InvalidEntry
from common.schema import load_stored
from common.stream import StreamEntry


@dataclass(frozen=True)
class Decoded:
    entry: StreamEntry
    log: dict[str, Any]

    @property
    def entry_id(self) -> str:
        return self.entry.entry_id


def decode_entry(entry: StreamEntry) -> Decoded:
    """Stream entry → canonical log, or ``InvalidEntry`` saying why not."""
    raw = entry.fields.get("data")
    if raw is None:
        raise InvalidEntry("entry has no 'data' field")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEntry(f"'data' is not JSON: {exc}") from None
    try:
        log = load_stored(data)
    except ValidationError as exc:
        raise InvalidEntry(f"'data' fails the log contract: {exc.messages}") from None
    return Decoded(entry, log)


def bulk_body(logs: Sequence[Decoded], alias: str, ingested_at: str) -> bytes:
    """NDJSON ``create`` actions: ``_id`` = log id, index from the log's own day."""
    lines: list[bytes] = []
    for item in logs:
        log = item.log
        action = {"create": {"_index": index_for(alias, log["timestamp"]), "_id": log["id"]}}
        lines.append(orjson.dumps(action))
        lines.append(orjson.dumps(build_document(log, ingested_at=ingested_at)))
    lines.append(b"")
    return b"\n".join(lines)
