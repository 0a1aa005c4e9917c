"""The fallback spool: NDJSON files the API writes when Redis is unreachable.

Writer (one per process): appends one canonical log per line and fsyncs before
the API answers, so a spooled log is as durable as one in the stream. Each file
is created under a temporary name, locked (``flock``) and only then renamed to
``spool-*.ndjson``: a file under its final name is therefore always locked while
its writer has it open. The writer rotates on size or age, and closes its file
as soon as Redis works again, releasing it for replay.

Reader (``replay-fallback``): takes only files it can lock without waiting, so it
never touches a file that is being written, and removes (or archives) a file
only after all of it is in the stream.
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

SPOOL_GLOB = "spool-*.ndjson"


class SpoolError(OSError):
    """The spool could not make a log durable (disk full, permissions, …)."""


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SpoolWriter:
    """Appends records durably to this process's current spool file."""

    def __init__(
        self,
        directory: str | Path,
        max_bytes: int = 64 * 1024 * 1024,
        max_age_s: float = 300.0,
        idle_close_s: float | None = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = Path(directory)
        self.max_bytes, self.max_age_s, self.clock = max_bytes, max_age_s, clock
        self.idle_close_s = idle_close_s
        self._file: IO[bytes] | None = None
        self._opened_at = self._last_write = 0.0
        self._closer: threading.Thread | None = None
        self._pid = os.getpid()
        self._count = 0
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self._file is not None and self._pid == os.getpid()

    def write(self, record: bytes) -> None:
        """Append one line and fsync it; raises ``SpoolError`` if that is not possible."""
        self.write_many([record])

    def write_many(self, records: list[bytes]) -> None:
        """Append lines with one fsync; raises ``SpoolError`` if that is not possible."""
        with self._lock:
            try:
                handle = self._current()
                handle.write(b"".join(record + b"\n" for record in records))
                handle.flush()
                os.fsync(handle.fileno())
                self._last_write = self.clock()
            except OSError as exc:
                self._close()
                raise SpoolError(f"spool write failed: {exc}") from None

    def close(self) -> None:
        """Release the current file (to replay) — called once Redis works again."""
        with self._lock:
            self._close()

    def _current(self) -> IO[bytes]:
        if self._pid != os.getpid():  # forked: the parent's file is not ours
            self._file, self._pid = None, os.getpid()
        if self._file is not None and (
            self._file.tell() >= self.max_bytes or self.clock() - self._opened_at >= self.max_age_s
        ):
            self._close()
        if self._file is None:
            self._file = self._open_new()
            self._opened_at = self.clock()
            self._start_idle_closer()
        return self._file

    def _start_idle_closer(self) -> None:
        """Release the file once nothing was spooled for ``idle_close_s``: when Redis
        is back but this process gets no request to notice it, replay can still
        take the file."""
        if self.idle_close_s is None or (self._closer and self._closer.is_alive()):
            return
        self._closer = threading.Thread(target=self._close_when_idle, daemon=True)
        self._closer.start()

    def _close_when_idle(self) -> None:
        assert self.idle_close_s is not None
        while True:
            time.sleep(self.idle_close_s / 4)
            with self._lock:
                if self._file is not None and (
                    self.clock() - self._last_write >= self.idle_close_s
                ):
                    self._close()
                if self._file is None:
                    self._closer = None
                    return

    def _open_new(self) -> IO[bytes]:
        self.directory.mkdir(parents=True, exist_ok=True)
        # Names sort by creation: UTC time to the microsecond, then this writer's count.
        self._count += 1
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        host = socket.gethostname()
        name = f"spool-{stamp}-{self._count:06d}-{host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        temporary = self.directory / f".{name}.tmp"
        handle = open(temporary, "xb")  # noqa: SIM115 - kept open across requests
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        os.rename(temporary, self.directory / f"{name}.ndjson")
        _fsync_dir(self.directory)
        return handle

    def _close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()  # closing releases the lock
            finally:
                self._file = None


@dataclass(frozen=True)
class SpoolFile:
    path: Path
    handle: IO[bytes]


@contextmanager
def claim(path: Path) -> Iterator[SpoolFile | None]:
    """Lock a spool file for replay; yields ``None`` if a writer still holds it."""
    try:
        handle = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        yield None
        return
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        if not path.exists():  # replayed and removed by someone else meanwhile
            yield None
            return
        yield SpoolFile(path, handle)
    finally:
        handle.close()


def spool_files(directory: str | Path) -> list[Path]:
    """Spool files, oldest first (names start with their UTC creation time)."""
    found = Path(directory)
    return sorted(found.glob(SPOOL_GLOB)) if found.is_dir() else []


def spool_size(directory: str | Path) -> dict[str, int]:
    files = spool_files(directory)
    total = 0
    for path in files:
        try:
            total += path.stat().st_size
        except FileNotFoundError:
            continue
    return {"files": len(files), "bytes": total}
