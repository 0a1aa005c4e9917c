"""gunicorn settings for the API (loaded automatically from the working directory).

PORT and WEB_CONCURRENCY override the defaults; anything here can also be
overridden on the gunicorn command line.
"""

import os
import shutil
import tempfile

bind = f"0.0.0.0:{os.environ.get('PORT', '3100')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# sync, not gthread: measured (BENCHMARKS.md, "Trial: gunicorn gthread") gthread's
# keep-alive did not pay for its GIL contention: API alone 0.52 → 0.39, single-log
# 0.77 → 0.56 of their references.
worker_class = "sync"
timeout = 30
graceful_timeout = 30  # in-flight requests finish on SIGTERM
keepalive = 5
# No control socket: several gunicorns (make run, tests) may run on one machine.
control_socket_disable = True
accesslog = None

# Prometheus multiprocess mode: every worker writes its metrics to files here, and a
# scrape of any worker reports the totals. Set before the app (and prometheus_client)
# is imported in the workers; one folder per master, removed when it exits.
_OWN_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="stealthflow-metrics-")


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):  # type: ignore[no-untyped-def]
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
