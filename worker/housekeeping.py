"""Chores a worker does every ``HOUSEKEEPING_INTERVAL`` seconds, besides consuming.

- claim entries that crashed or stuck consumers left pending too long;
- trim the entries every group has acknowledged, so Redis memory stays bounded;
- forget consumers that have been idle for long and hold nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from common.config import Settings
from common.stream import LogStream

log = logging.getLogger("stealthflow.worker")


@dataclass(frozen=True)
class Chores:
    claimed: int = 0
    trimmed: int = 0
    forgotten: int = 0


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
        chores = Chores(len(claimed), trimmed, len(forgotten))
        if claimed or forgotten:
            log.info(
                "claimed %d idle entries, trimmed %d, forgot consumers %s",
                len(claimed),
                trimmed,
                forgotten,
            )
        return chores
