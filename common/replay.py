"""Put spooled logs back into the stream (``manage.py replay-fallback``).

A file is removed (or archived) only after every line of it is in the stream;
a crash half-way means the file is replayed again, which is harmless because
each log keeps its id and Elasticsearch stores one document per id. Lines that
are not a log (a torn write, corruption) go to the DLQ with the reason, never
silently away.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import orjson

from common.dlq import DeadLetter
from common.errors import TransientError
from common.schema import format_timestamp
from common.spool import claim, spool_files
from common.stream import LogStream

CHUNK = 500


@dataclass
class SpoolReplay:
    files: int = 0
    appended: int = 0
    dead_lettered: int = 0
    busy: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def _parse(line: bytes) -> tuple[str, bytes] | str:
    """``(id, data)`` for a good line, else the reason it is not a log."""
    if not line.endswith(b"\n"):
        return "torn line (the write did not complete)"
    try:
        log = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return f"not JSON: {exc}"
    if not isinstance(log, dict) or not isinstance(log.get("id"), str):
        return "not a canonical log (no id)"
    return log["id"], line.rstrip(b"\n")


def _dead_letter(path: Path, number: int, line: bytes, reason: str, now: str) -> DeadLetter:
    return DeadLetter(
        source_entry_id=f"{path.name}:{number}",
        log_id="",
        data=line,
        error_type="spool_corrupt",
        reason=reason,
        status=0,
        worker="replay-fallback",
        attempts=1,
        first_failed_at=now,
        last_failed_at=now,
    )


def replay_file(
    path: Path, handle: IO[bytes], stream: LogStream, now: str, progress: Callable[[int], None]
) -> tuple[int, int]:
    """Append one claimed file to the stream; returns (appended, dead-lettered)."""
    appended = 0
    chunk: list[tuple[str, bytes]] = []
    corrupt: list[DeadLetter] = []

    def flush() -> None:
        nonlocal appended, chunk
        if chunk:
            stream.append_many(chunk)
            appended += len(chunk)
            progress(sum(len(data) + 1 for _, data in chunk))
            chunk = []

    for number, line in enumerate(handle, start=1):
        parsed = _parse(line)
        if isinstance(parsed, str):
            corrupt.append(_dead_letter(path, number, line, parsed, now))
        else:
            chunk.append(parsed)
        if len(chunk) >= CHUNK:
            flush()
    flush()
    if corrupt:
        stream.add_dead_letters(corrupt)
    return appended, len(corrupt)


def _retire(path: Path, archive: Path | None) -> None:
    if archive is None:
        path.unlink()
    else:
        archive.mkdir(parents=True, exist_ok=True)
        shutil.move(path, archive / path.name)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replay_spool(
    directory: str | Path,
    stream: LogStream,
    *,
    now: str | None = None,
    dry_run: bool = False,
    archive: Path | None = None,
    progress: Callable[[int], None] = lambda _n: None,
) -> SpoolReplay:
    """Replay every spool file no writer holds, oldest first."""
    now = now or format_timestamp(datetime.now(UTC))
    summary = SpoolReplay()
    for path in spool_files(directory):
        with claim(path) as claimed:
            if claimed is None:
                summary.busy.append(path.name)
                continue
            summary.files += 1
            if dry_run:
                parsed = [_parse(line) for line in claimed.handle]
                bad = sum(isinstance(item, str) for item in parsed)
                summary.appended += len(parsed) - bad
                summary.dead_lettered += bad
                progress(path.stat().st_size)
                continue
            try:
                appended, dead = replay_file(path, claimed.handle, stream, now, progress)
                _retire(path, archive)
            except (TransientError, OSError) as exc:
                summary.failed[path.name] = str(exc)
                continue
            summary.appended += appended
            summary.dead_lettered += dead
    return summary
