"""The worker loop: read → index → settle (acknowledge / dead-letter), until stopped.

An entry is acknowledged only after Elasticsearch has stored it, or together with
its dead-letter record in one Redis transaction. On a transient failure nothing
more is acknowledged: the entries stay pending for this consumer and are read
again from its pending list after a backoff. An entry delivered more than
``MAX_DELIVERIES`` times is dead-lettered as poison instead of looping forever.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from elasticsearch import Elasticsearch

from common import metrics
from common.config import Settings
from common.dlq import DeadLetter
from common.elastic import install_index_template
from common.errors import TransientError
from common.schema import format_timestamp
from common.stream import LogStream, StreamEntry
from worker.backoff import Backoff
from worker.housekeeping import Housekeeping
from worker.sink import BatchResult, Rejected, index_batch

log = logging.getLogger("stealthflow.worker")


def utc_now() -> str:
    return format_timestamp(datetime.now(UTC))


def _count(result: BatchResult) -> None:
    metrics.BATCH_SIZE.observe(len(result.stored) + len(result.rejected) + len(result.retry))
    metrics.INDEXED.inc(len(result.stored))
    metrics.RETRIED.inc(len(result.retry))
    for item in result.rejected:
        metrics.DEAD_LETTERED.labels(item.error_type).inc()


class RetryLater(TransientError):
    """Some entries of the batch must be sent again after a backoff."""


class Consumer:
    def __init__(
        self,
        stream: LogStream,
        es: Elasticsearch,
        settings: Settings,
        now: Callable[[], str] = utc_now,
        housekeeping: bool = True,
    ) -> None:
        self.stream, self.es, self.settings, self.now = stream, es, settings, now
        self.name = settings.consumer_name
        self.backoff = Backoff(cap=settings.retry_backoff_max_s)
        self.housekeeping = Housekeeping(stream, settings) if housekeeping else None
        self.replay_pending = True  # first look at anything already delivered to us
        self.inflight: list[StreamEntry] = []
        self.deliveries: dict[str, int] = {}
        self.indexed = 0

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set; the in-flight batch is always finished first."""
        self._until_ready(stop)
        while not stop.is_set():
            try:
                chores = self.housekeeping.run_if_due() if self.housekeeping else None
                if chores and chores.claimed:
                    self.replay_pending = True
                self.run_once()
                self.backoff.reset()
            except TransientError as exc:
                delay = self.backoff.next_delay()
                log.warning("transient failure, retrying in %.1fs: %s", delay, exc)
                stop.wait(delay)

    def run_once(self) -> BatchResult:
        """One read → index → settle cycle; returns what became of the batch.

        What must be retried stays in ``inflight`` and is sent again as it is on the
        next call: a retry is not a new delivery, so transient failures never push
        an entry towards the poison cut-off.
        """
        if not self.inflight:
            self.inflight, self.deliveries = self._read()
            if not self.inflight:
                return BatchResult()
        fresh, poison = self._split_poison(self.inflight, self.deliveries)
        result = index_batch(self.es, fresh, self.settings.index_alias, self.now)
        result.rejected.extend(poison)
        self.stream.settle(result.stored, self._dead_letters(result.rejected, self.deliveries))
        self.indexed += len(result.stored)
        _count(result)
        retry = set(result.retry)
        self.inflight = [entry for entry in self.inflight if entry.entry_id in retry]
        if self.inflight:
            raise RetryLater(f"{len(retry)} entries refused as busy by Elasticsearch")
        return result

    def _read(self) -> tuple[list[StreamEntry], dict[str, int]]:
        """This consumer's pending entries first (after a start or a claim), with how
        often each was delivered; then new entries."""
        settings = self.settings
        if self.replay_pending:
            entries = self.stream.read(self.name, settings.batch_size, 0, pending=True)
            if entries:
                ids = [entry.entry_id for entry in entries]
                return entries, self.stream.delivery_counts(self.name, ids)
            self.replay_pending = False
        return self.stream.read(self.name, settings.batch_size, settings.block_ms), {}

    def _split_poison(
        self, entries: Sequence[StreamEntry], deliveries: dict[str, int]
    ) -> tuple[list[StreamEntry], list[Rejected]]:
        limit = self.settings.max_deliveries
        fresh, poison = [], []
        for entry in entries:
            count = deliveries.get(entry.entry_id, 1)
            if count > limit:
                reason = f"delivered {count} times without being stored (limit {limit})"
                poison.append(Rejected(entry, "poison", reason, 0))
            else:
                fresh.append(entry)
        return fresh, poison

    def _dead_letters(
        self, rejected: Sequence[Rejected], deliveries: dict[str, int]
    ) -> list[DeadLetter]:
        now = self.now()
        letters = []
        for item in rejected:
            fields = item.entry.fields
            earlier = int(fields.get("attempts", b"0") or 0)  # set when replayed from the DLQ
            letters.append(
                DeadLetter(
                    source_entry_id=item.entry.entry_id,
                    log_id=fields.get("id", b"").decode(errors="replace"),
                    data=fields.get("data", b""),
                    error_type=item.error_type,
                    reason=item.reason,
                    status=item.status,
                    worker=self.name,
                    attempts=earlier + deliveries.get(item.entry.entry_id, 1),
                    first_failed_at=fields.get("first_failed_at", b"").decode() or now,
                    last_failed_at=now,
                )
            )
        return letters

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
