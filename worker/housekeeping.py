"""Chores a worker does every ``HOUSEKEEPING_INTERVAL`` seconds, besides consuming.

- claim entries that crashed or stuck consumers left pending too long;
- trim the entries every group has acknowledged, so Redis memory stays bounded;
- forget consumers that have been idle for long and hold nothing;
- replay the API's fallback spool into the stream, where this worker can see it
  (same host or a shared volume), so spooled logs flow on without an operator.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common.config import Settings
from common.replay import replay_spool
from common.stream import LogStream

log = logging.getLogger("stealthflow.worker")


@dataclass(frozen=True)
class Chores:
    claimed: int = 0
    trimmed: int = 0
    forgotten: int = 0
    replayed: int = 0


class Housekeeping:
    def __init__(
        self, stream: LogStream, settings: Settings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stream, self.settings, self.clock = stream, settings, clock
        self.next_due = 0.0  # due at once: a restarted worker first reclaims

    def run_if_due(self) -> Chores | None:
        if self.clock() < self.next_due:
            return None
        self.next_due = self.clock() + self.settings.housekeeping_interval_s
        return self.run()

    def run(self) -> Chores:
        settings = self.settings
        claimed = self.stream.claim_idle(
            settings.consumer_name, settings.claim_idle_ms, limit=settings.batch_size * 10
        )
        trimmed = self.stream.trim_acknowledged()
        forgotten = self.stream.forget_idle_consumers(
            keep=settings.consumer_name, idle_ms=settings.consumer_idle_ms
        )
        replayed = self._replay_spool()
        chores = Chores(len(claimed), trimmed, len(forgotten), replayed)
        if claimed or forgotten or replayed:
            log.info(
                "claimed %d idle entries, trimmed %d, forgot consumers %s, replayed %d spooled",
                len(claimed),
                trimmed,
                forgotten,
                replayed,
            )
        return chores

    def _replay_spool(self) -> int:
        directory = Path(self.settings.fallback_dir)
        if not self.settings.fallback_auto_replay or not directory.is_dir():
            return 0
        summary = replay_spool(directory, self.stream)
        for name, error in summary.failed.items():
            log.warning("spool file %s not replayed yet: %s", name, error)
        return summary.appended
