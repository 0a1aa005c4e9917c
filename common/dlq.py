"""Dead-letter records: what the worker could never store, and why.

A record keeps the original ``id`` and ``data`` untouched, so it can be inspected
with ``XRANGE`` and replayed as it was.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeadLetter:
    source_entry_id: str
    log_id: str
    data: bytes
    error_type: str
    reason: str
    status: int
    worker: str
    attempts: int
    first_failed_at: str
    last_failed_at: str

    def fields(self) -> dict[str, str | bytes | int]:
        return {
            "id": self.log_id,
            "data": self.data,
            "error_type": self.error_type,
            "reason": self.reason[:2000],
            "status": self.status,
            "source_entry_id": self.source_entry_id,
            "worker": self.worker,
            "attempts": self.attempts,
            "first_failed_at": self.first_failed_at,
            "last_failed_at": self.last_failed_at,
        }
