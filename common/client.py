"""``StealthflowHandler``: ship a Python service's logs to StealthFlow (stdlib only,
so a service can copy this file as it is).

``emit`` turns a record into a log of the contract with an id made once, and
appends it to a bounded queue: no I/O, never raises. When the queue is full the
*newest* log is dropped (counted in ``dropped``): what is queued, which usually
shows how an outage began, is kept, and ``emit`` stays O(1).

A daemon thread POSTs batches (``batch_size`` logs, or what is queued once
``flush_interval`` has passed) as a gzipped JSON array to ``<url>/api/v1/logs``:
2xx → ``sent``, and logs the answer lists as ``rejected`` are never re-sent;
413 → the batch is split in halves; other 4xx except 408/429 → ``rejected``;
429/503 (``Retry-After``, at most ``RETRY_AFTER_MAX``), 408, 5xx, no answer →
the *same* batch, same ids, again after a wait (exponential backoff with jitter
when no ``Retry-After``) until ``max_retry_time``, then ``dropped``.

``flush`` waits for what is queued; ``close`` flushes for at most ``timeout``
seconds and counts what is left as ``dropped``; an ``atexit`` hook closes every
open handler. Trouble in the thread is told once per kind on stderr. A forked
child starts with an empty queue and a thread of its own.
"""

from __future__ import annotations

import atexit
import copy
import gzip
import json
import logging
import math
import os
import random
import secrets
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, NamedTuple, TypeAlias

ExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType | None]

PATH = "/api/v1/logs"
RETRY_AFTER_MAX = 60.0  # seconds; a longer Retry-After is shortened to this
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0  # seconds; doubled per failed attempt
CLOSE_TIMEOUT = 5.0  # seconds close() (and so interpreter exit) may spend flushing
IDLE_WAIT = 1.0  # seconds; the idle sender re-checks its queue at least this often
STACK_MAX_CHARS = 16_000  # the tail of a longer traceback is kept (context size limit)
_LEVELS = ((50, "fatal"), (40, "error"), (30, "warn"), (20, "info"), (10, "debug"))  # CRITICAL…
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_LIFTED = ("trace_id", "span_id", "request_id")  # extras that are fields of the contract
_OPEN: set[StealthflowHandler] = set()


def level_name(levelno: int) -> str:
    """The contract's level for a ``logging`` level number (below DEBUG: trace)."""
    return next((name for number, name in _LEVELS if levelno >= number), "trace")


def new_id() -> str:
    """Unique, time-ordered, of the id alphabet: 48-bit ms time + 80 random bits, hex."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


def json_safe(value: object) -> object:
    """``value`` if it is plain JSON (no NaN); else its JSON form with ``repr`` for
    what JSON cannot hold; else ``repr(value)``."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    try:
        return json.loads(json.dumps(value, allow_nan=False, default=_repr))
    except (TypeError, ValueError, RecursionError):
        return _repr(value)


def _repr(value: object, convert: Callable[[object], str] = repr) -> str:
    try:
        return convert(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"


def record_context(record: logging.LogRecord) -> dict[str, Any]:
    """Where the record comes from, its exception, and its extras (which win)."""
    context: dict[str, Any] = {
        "logger": record.name,
        "module": record.module,
        "function": record.funcName,
        "line": record.lineno,
        "thread": record.threadName,
    }
    if record.exc_info and record.exc_info[0] is not None:
        context["exception"] = exception_fields(record.exc_info)
    if record.stack_info:
        context["stack_info"] = record.stack_info[-STACK_MAX_CHARS:]
    for name, value in vars(record).items():
        if name not in _RECORD_FIELDS and name not in _LIFTED:
            context[name] = json_safe(value)
    return context


def exception_fields(exc_info: ExcInfo) -> dict[str, str]:
    kind, error = exc_info[0], exc_info[1]
    name = kind.__qualname__
    if kind.__module__ != "builtins":
        name = f"{kind.__module__}.{name}"
    stack = logging.Formatter().formatException(exc_info)
    return {"type": name, "message": _repr(error, str), "stack": stack[-STACK_MAX_CHARS:]}


def record_to_log(record: logging.LogRecord, message: str, **fields: str | None) -> dict[str, Any]:
    """One log of the contract; ``fields`` are ``service``, ``environment``, ``host``."""
    log: dict[str, Any] = {
        "id": new_id(),
        "timestamp": int(record.created * 1000),
        "level": level_name(record.levelno),
        "message": message if message.strip() else "(empty message)",
        **{name: value for name, value in fields.items() if value},
        "context": record_context(record),
    }
    for name in _LIFTED:
        value = getattr(record, name, None)
        text = "" if value is None else _repr(value, str)[:256]
        if text:
            log[name] = text
    return log


class Reply(NamedTuple):
    """An answer of the API; ``status`` 0 when there was none (connection, timeout)."""

    status: int
    retry_after: float | None = None
    rejected: int = 0


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` (seconds or an HTTP date) in seconds, within [0, RETRY_AFTER_MAX]."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), RETRY_AFTER_MAX) if math.isfinite(seconds) else None


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Reply:
    """POST ``body``; never raises (no answer → status 0)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, rejected=rejected_count(response.read()))
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, parse_retry_after(error.headers.get("Retry-After")))
    except Exception:  # connection refused/reset, timeout, cut-off answer: retry later
        return Reply(0)


def rejected_count(body: bytes) -> int:
    """How many logs a 202 batch answer lists under ``rejected`` (0 if unreadable)."""
    try:
        rejected = json.loads(body).get("rejected")
    except (ValueError, AttributeError):
        return 0
    return len(rejected) if isinstance(rejected, list) else 0


def backoff(attempt: int) -> float:
    """Exponential (capped) with jitter: a random time in [d/2, d]."""
    delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2.0**attempt)
    return delay / 2 + random.uniform(0, delay / 2)


class StealthflowHandler(logging.Handler):
    """Ships records to StealthFlow in the background; see the module docstring.

    The message is ``self.format(record)`` without traceback: keep the default
    formatter to send the bare message (level, time and logger travel as fields).
    Counters: ``sent``, ``rejected``, ``dropped``, ``retried``; ``pending``."""

    def __init__(
        self,
        url: str,
        service: str,
        *,
        api_key: str | None = None,
        environment: str | None = None,
        host: str | None = None,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        max_queue: int = 10_000,
        timeout: float = 5.0,
        max_retry_time: float = 300.0,
    ) -> None:
        super().__init__()
        self.url = url.rstrip("/") + PATH
        host = host or socket.gethostname()
        self.fields = {"service": service, "environment": environment, "host": host}
        if not service.strip() or any(len(value or "") > 256 for value in self.fields.values()):
            raise ValueError("service is required; service, environment, host: ≤ 256 characters")
        self.headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        self.batch_size, self.flush_interval = max(1, batch_size), flush_interval
        self.max_queue, self.timeout, self.max_retry_time = max_queue, timeout, max_retry_time
        self._start()
        _OPEN.add(self)

    def _start(self) -> None:
        """A fresh queue, counters and sender thread (at creation, and after fork)."""
        self.sent = self.dropped = self.rejected = self.retried = 0
        self._queue: deque[dict[str, Any]] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._enqueued = self._taken = self._settled = self._flush_to = 0
        self._close_by = math.inf  # monotonic deadline, set by close()
        self._stopped, self._reported = False, set[str]()
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="stealthflow-handler", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Logs queued or being sent, not yet settled (sent, rejected or dropped)."""
        with self._cond:
            return self._enqueued - self._settled

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self._pid != os.getpid():
                self._start()
            if threading.current_thread() is self._thread:
                return  # a record logged while sending: shipping it could loop
            log = record_to_log(record, self._message(record), **self.fields)
            self._enqueue(log)
        except Exception:
            self.handleError(record)

    def _message(self, record: logging.LogRecord) -> str:
        """The formatted message without traceback or stack (those go to context)."""
        if record.exc_info or record.exc_text or record.stack_info:
            record = copy.copy(record)
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        return self.format(record)

    def _enqueue(self, log: dict[str, Any]) -> None:
        with self._cond:
            room = self._close_by == math.inf and len(self._queue) < self.max_queue
            room = room and not self._stopped
            if room:
                self._queue.append(log)
                self._enqueued += 1
                if len(self._queue) in (1, self.batch_size):  # what the sender waits for
                    self._cond.notify_all()
            else:
                self.dropped += 1
        if not room:  # outside the lock: stderr may block
            self._report("dropped", "queue full or handler closed: log dropped; only counted")

    def flush(self, timeout: float | None = None) -> bool:  # type: ignore[override]
        """Wait until what is queued now is settled (sent, rejected, dropped): without
        ``timeout``, about ``max_retry_time`` at worst, and never past ``close``'s
        deadline. ``False`` on timeout."""
        if self._pid != os.getpid():
            return True  # nothing of this process is queued yet
        with self._cond:
            if self._close_by < math.inf:
                left = max(0.0, self._close_by - time.monotonic())
                timeout = left if timeout is None else min(timeout, left)
            target = self._flush_to = max(self._flush_to, self._enqueued)
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._settled >= target or self._stopped, timeout)

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Flush for at most ``timeout`` seconds, drop what is left, stop the thread."""
        if self._begin_close(timeout) and threading.current_thread() is not self._thread:
            self._thread.join(max(0.0, self._close_by - time.monotonic()) + 0.1)
        _OPEN.discard(self)
        super().close()

    def _begin_close(self, timeout: float) -> bool:
        """Set the deadline and wake the sender; ``False`` in a forked child that
        never logged (the queue is the parent's)."""
        if self._pid != os.getpid():
            return False
        with self._cond:
            self._close_by = min(self._close_by, time.monotonic() + timeout)
            self._cond.notify_all()
        return True

    def _report(self, kind: str, message: str) -> None:
        """One line on stderr the first time something of this kind happens."""
        if kind not in self._reported:
            self._reported.add(kind)
            print(f"StealthflowHandler({self.url}): {message}", file=sys.stderr)

    # The sender thread.

    def _run(self) -> None:
        try:
            while (batch := self._take_batch()) is not None:
                self._deliver(batch)
                self._settle(len(batch))
        except Exception as exc:  # a bug here must not reach the application
            self._report("crash", f"sender stopped: {exc!r}")
        finally:
            with self._cond:
                left = len(self._queue) + self._taken - self._settled
                self.dropped += left
                self._settled, self._stopped = self._enqueued, True
                self._queue.clear()
                self._cond.notify_all()
            if left:
                self._report("dropped", f"{left} log(s) dropped at close")

    def _take_batch(self) -> list[dict[str, Any]] | None:
        """The next batch once full, old enough, or flushed; ``None`` when closed."""
        with self._cond:
            while not self._queue and self._close_by == math.inf:
                self._cond.wait(IDLE_WAIT)
            if not self._queue or time.monotonic() >= self._close_by:
                return None
            deadline = time.monotonic() + self.flush_interval
            while len(self._queue) < self.batch_size and not self._urgent():
                if not self._cond.wait(max(0.0, deadline - time.monotonic())):
                    break
            batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
            self._taken += len(batch)
            return batch

    def _urgent(self) -> bool:
        return self._taken < self._flush_to or self._close_by < math.inf

    def _settle(self, count: int) -> None:
        with self._cond:
            self._settled += count
            self._cond.notify_all()

    def _count(self, kind: str, count: int, why: str = "") -> None:
        with self._cond:
            setattr(self, kind, getattr(self, kind) + count)
        if kind in ("rejected", "dropped") and count:
            self._report(kind, f"{count} log(s) {kind}{why}; from now on only counted")

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        """Send one batch until stored, refused for good, or out of time."""
        parts, attempt = [batch], 0
        give_up_at = time.monotonic() + self.max_retry_time
        while parts:
            part = parts.pop()
            reply = self._send(part)
            if 200 <= reply.status < 300:
                rejected = min(reply.rejected, len(part))
                self._count("sent", len(part) - rejected)
                self._count("rejected", rejected, " (invalid: see the API's answer)")
            elif reply.status == 413 and len(part) > 1:
                middle = len(part) // 2
                parts += [part[middle:], part[:middle]]
            elif 400 <= reply.status < 500 and reply.status not in (408, 429):
                self._count("rejected", len(part), f" (HTTP {reply.status})")
            else:
                parts.append(part)
                delay = reply.retry_after if reply.retry_after is not None else backoff(attempt)
                attempt += 1
                if not self._wait(delay, give_up_at):
                    self._count("dropped", sum(len(p) for p in parts), " (no delivery in time)")
                    return

    def _send(self, part: list[dict[str, Any]]) -> Reply:
        body = gzip.compress(json.dumps(part, separators=(",", ":")).encode())
        remaining = self._close_by - time.monotonic()
        return post(self.url, body, self.headers, max(0.1, min(self.timeout, remaining)))

    def _wait(self, delay: float, give_up_at: float) -> bool:
        """Sleep before a retry; ``False`` when it is time to give up instead."""
        limit = min(give_up_at, self._close_by)
        if time.monotonic() >= limit:
            return False
        self._count("retried", 1)
        with self._cond:  # only close() cuts it short (emit and flush notify too)
            closing = self._close_by < math.inf
            self._cond.wait_for(
                lambda: (self._close_by < math.inf) != closing,
                max(0.0, min(delay, limit - time.monotonic())),
            )
        return True


@atexit.register
def _close_all() -> None:
    """Flush every open handler at interpreter exit, all within CLOSE_TIMEOUT."""
    handlers = list(_OPEN)
    for handler in handlers:
        handler._begin_close(CLOSE_TIMEOUT)
    for handler in handlers:
        handler.close()
