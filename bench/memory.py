"""Memory of the benchmarked processes, from /proc (Linux): VmRSS now, VmHWM the peak.

``RssSampler`` samples the processes it watches in a thread of its own; a process is
found again by a callable each time, so gunicorn workers that are replaced show up.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


def children_of(pid: int) -> list[int]:
    """Live child processes of ``pid`` (scan of /proc, so no kernel option is needed)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def memory_kib(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) in KiB, or None once the process is gone."""
    values: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    name, value = line.split(":", 1)
                    values[name] = int(value.split()[0])
    except OSError:
        return None
    if len(values) < 2:
        return None
    return values["VmRSS"], values["VmHWM"]


@dataclass
class Track:
    """Memory samples of one process: (seconds since start, VmRSS KiB), and its VmHWM."""

    label: str
    pid: int
    samples: list[tuple[float, int]] = field(default_factory=list)
    peak_kib: int = 0


class RssSampler:
    """Samples VmRSS/VmHWM of the watched processes every ``interval`` seconds, in a thread."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.tracks: dict[tuple[str, int], Track] = {}
        self._watched: dict[str, Callable[[], list[int]]] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self._started = time.monotonic()

    def watch(self, label: str, pids: Callable[[], list[int]]) -> None:
        with self._lock:
            self._watched[label] = pids

    def unwatch(self, label: str) -> None:
        with self._lock:
            self._watched.pop(label, None)

    def sample(self) -> None:
        with self._lock:
            watched = list(self._watched.items())
        now = time.monotonic() - self._started
        for label, pids in watched:
            for pid in pids():
                found = memory_kib(pid)
                if found is None:
                    continue
                track = self.tracks.setdefault((label, pid), Track(label, pid))
                track.samples.append((now, found[0]))
                track.peak_kib = max(track.peak_kib, found[1])

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
