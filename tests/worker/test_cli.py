"""The worker process and its signals (a real process on the real services)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from tests.helpers import wait_for
from tests.test_end_to_end import ROOT, service_env


def _start(settings, block_ms: str) -> subprocess.Popen[bytes]:
    env = service_env(settings) | {"LOG_BLOCK_MS": block_ms}
    process = subprocess.Popen(
        [sys.executable, "-m", "worker"], cwd=ROOT, env=env, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    wait_for(lambda: b"reading" in process.stderr.readline(), timeout=30)
    return process


def test_first_signal_finishes_the_read_and_exits_0(settings, stream):
    process = _start(settings, block_ms="1000")
    time.sleep(0.3)  # inside a blocking read
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    process.stderr.close()  # type: ignore[union-attr]


def test_second_signal_exits_at_once(settings, stream):
    process = _start(settings, block_ms="20000")
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    # 1 is the immediate exit: a graceful stop (after the 20 s read) would exit 0.
    assert process.wait(timeout=15) == 1
    process.stderr.close()  # type: ignore[union-attr]
