"""The worker loop: read → index → acknowledge / dead-letter, until asked to stop.

An entry is acknowledged only after Elasticsearch has stored it (or it has been
written to the dead-letter stream in the same Redis transaction). On a transient
failure nothing more is acknowledged: the entries stay pending for this consumer
and are read again from its pending list after a backoff.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from elasticsearch import Elasticsearch

from common.config import Settings
from common.dlq import DeadLetter
from common.elastic import install_index_template
from common.errors import TransientError
from common.schema import format_timestamp
from common.stream import LogStream
from worker.backoff import Backoff
from worker.sink import BatchResult, Rejected, index_batch

log = logging.getLogger("stealthflow.worker")


def utc_now() -> str:
    return format_timestamp(datetime.now(UTC))


class Consumer:
    def __init__(
        self,
        stream: LogStream,
        es: Elasticsearch,
        settings: Settings,
        now: Callable[[], str] = utc_now,
    ) -> None:
        self.stream, self.es, self.settings, self.now = stream, es, settings, now
        self.name = settings.consumer_name
        self.backoff = Backoff()
        self.replay_pending = True  # first look at anything already delivered to us
        self.indexed = 0

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set; the in-flight batch is always finished first."""
        self._until_ready(stop)
        while not stop.is_set():
            try:
                self.run_once()
                self.backoff.reset()
            except TransientError as exc:
                delay = self.backoff.next_delay()
                log.warning("transient failure, retrying in %.1fs: %s", delay, exc)
                self.replay_pending = True
                stop.wait(delay)

    def run_once(self) -> BatchResult:
        """One read → index → settle cycle; returns what became of the batch."""
        entries = self.stream.read(
            self.name, self.settings.batch_size, self.settings.block_ms, pending=self.replay_pending
        )
        if not entries:
            self.replay_pending = False
            return BatchResult()
        result = index_batch(self.es, entries, self.settings.index_alias, self.now)
        self.stream.ack(result.stored)
        self.stream.dead_letter(self._dead_letters(result.rejected))
        self.indexed += len(result.stored)
        if result.retry:
            raise _RetryLater(f"{len(result.retry)} entries rejected as busy by Elasticsearch")
        return result

    def _dead_letters(self, rejected: list[Rejected]) -> list[DeadLetter]:
        if not rejected:
            return []
        now = self.now()
        counts = self.stream.delivery_counts(self.name, [r.entry.entry_id for r in rejected])
        return [
            DeadLetter(
                source_entry_id=r.entry.entry_id,
                log_id=(r.entry.fields.get("id") or b"").decode(errors="replace"),
                data=r.entry.fields.get("data") or b"",
                error_type=r.error_type,
                reason=r.reason,
                status=r.status,
                worker=self.name,
                attempts=counts[r.entry.entry_id],
                first_failed_at=now,
                last_failed_at=now,
            )
            for r in rejected
        ]

    def _until_ready(self, stop: threading.Event) -> None:
        """Create the group and install the index template, retrying until both work."""
        while not stop.is_set():
            try:
                self.stream.ensure_group()
                install_index_template(self.es, self.settings)
                self.backoff.reset()
                return
            except TransientError as exc:
                delay = self.backoff.next_delay()
                log.warning("dependencies not ready, retrying in %.1fs: %s", delay, exc)
                stop.wait(delay)


class _RetryLater(TransientError):
    """Some entries of the batch must be sent again after a backoff."""
