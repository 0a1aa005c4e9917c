"""gunicorn settings for the API (loaded automatically from the working directory).

PORT and WEB_CONCURRENCY override the defaults; anything here can also be
overridden on the gunicorn command line.
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '3100')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
timeout = 30
graceful_timeout = 30  # in-flight requests finish on SIGTERM
keepalive = 5
# No control socket: several gunicorns (make run, tests) may run on one machine.
control_socket_disable = True
accesslog = None
