"""HTTP load: a few client threads, each with one keep-alive ``http.client`` connection.

Bodies are serialized before the clock starts and responses are not parsed (only
their status is checked), so the client spends as little CPU as it can on a
machine it shares with the server. A connection the server closed is opened
again on the next request (gunicorn's sync workers close after each response).
A request that fails on the connection is sent again, at most ``retries`` times:
every body carries its logs' ids, so a re-send is stored once.
"""

from __future__ import annotations

import http.client
import math
import threading
import time
from dataclasses import dataclass, field

from bench.harness import BenchError


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None
    content_type: str = "application/json"


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds, sorted
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, fraction: float) -> float:
        """Nearest-rank percentile of the latencies, in milliseconds."""
        if not self.latencies:
            return 0.0
        rank = min(max(1, math.ceil(fraction * len(self.latencies))), len(self.latencies))
        return self.latencies[rank - 1] * 1000


class _Client(threading.Thread):
    def __init__(
        self, port: int, requests: list[Request], expect: int, retries: int, deadline: float
    ) -> None:
        super().__init__(daemon=True)
        self.port, self.requests, self.expect = port, requests, expect
        self.retries, self.deadline = retries, deadline
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.error: str | None = None

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            for request in self.requests:
                if time.monotonic() > self.deadline:
                    self.error = "deadline passed"
                    return
                self._send(connection, request)
        except BenchError as exc:
            self.error = str(exc)
        finally:
            connection.close()

    def _send(self, connection: http.client.HTTPConnection, request: Request) -> None:
        headers = {"Content-Type": request.content_type} if request.body is not None else {}
        for _attempt in range(self.retries + 1):
            started = time.perf_counter()
            try:
                connection.request(request.method, request.path, body=request.body, headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                continue
            self.latencies.append(time.perf_counter() - started)
            self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
            if response.status != self.expect:
                raise BenchError(f"{request.method} {request.path} answered {response.status}")
            return
        raise BenchError(f"{request.method} {request.path}: connection failed {self.retries + 1}x")


def run_load(
    port: int,
    requests: list[Request],
    clients: int,
    expect: int = 202,
    retries: int = 3,
    timeout: float = 600.0,
) -> LoadResult:
    """Send ``requests`` from ``clients`` threads (round-robin split) and time the whole."""
    deadline = time.monotonic() + timeout
    threads = [
        _Client(port, requests[i::clients], expect, retries, deadline)
        for i in range(min(clients, len(requests)))
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()) + 5)
    seconds = time.perf_counter() - started
    errors = [t.error for t in threads if t.error] + [
        "client still running" for t in threads if t.is_alive()
    ]
    if errors:
        raise BenchError(f"HTTP load failed: {errors[0]}")
    result = combine([LoadResult(len(t.requests), 0.0, t.latencies, t.statuses) for t in threads])
    result.seconds = seconds  # the clients ran side by side: wall time, not the sum
    return result


def combine(results: list[LoadResult]) -> LoadResult:
    """Several rounds of the same load as one: requests and seconds summed."""
    total = LoadResult(sum(r.requests for r in results), sum(r.seconds for r in results))
    for result in results:
        total.latencies.extend(result.latencies)
        for status, count in result.statuses.items():
            total.statuses[status] = total.statuses.get(status, 0) + count
    total.latencies.sort()
    return total
