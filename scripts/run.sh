#!/usr/bin/env bash
# Run the whole service locally: Redis and Elasticsearch (scripts/services.sh up), the API under
# gunicorn and one log worker, side by side.
#
#   PORT=3100 WEB_CONCURRENCY=2 scripts/run.sh
#
# Ctrl-C or SIGTERM stops both processes (TERM, then KILL after STOP_TIMEOUT seconds) and exits 0
# when both stopped cleanly. If either process dies on its own, the other is stopped and the exit
# status is non-zero. Redis and Elasticsearch are left running (scripts/services.sh down stops them).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

PORT="${PORT:-3100}"
WEB_CONCURRENCY="${WEB_CONCURRENCY:-2}"
STOP_TIMEOUT="${STOP_TIMEOUT:-40}" # > gunicorn graceful_timeout (30 s)

log() { printf '[run] %s\n' "$*"; }

for bin in .venv/bin/gunicorn .venv/bin/python; do
    [[ -x $bin ]] || {
        printf '[run] ERROR: %s is missing; run "make run" (it creates .venv) or "make venv"\n' "$bin" >&2
        exit 1
    }
done

scripts/services.sh up

web_pid=""
worker_pid=""
stopping=""

on_signal() { # shellcheck disable=SC2317  # invoked by the traps below
    stopping="$1"
}
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal HUP' HUP

# setsid: each child gets its own session, so a Ctrl-C in the terminal reaches only this script,
# which then sends exactly one TERM (a second signal would make the worker skip its graceful stop).
log "api: gunicorn on 0.0.0.0:$PORT with $WEB_CONCURRENCY workers"
setsid .venv/bin/gunicorn --bind "0.0.0.0:$PORT" --workers "$WEB_CONCURRENCY" wsgi:app &
web_pid=$!
log "worker: python manage.py worker"
setsid .venv/bin/python manage.py worker &
worker_pid=$!

running() { kill -0 "$1" 2>/dev/null; }

# Sleep until a signal arrives or one of the two exits. `wait -n` returns early on a trapped signal.
while [[ -z $stopping ]] && running "$web_pid" && running "$worker_pid"; do
    wait -n || true
done

died=""
if [[ -z $stopping ]]; then
    running "$web_pid" || died="api (gunicorn)"
    running "$worker_pid" || died="${died:+$died and }worker"
    log "$died exited on its own; stopping the rest"
else
    log "SIG$stopping received; stopping api and worker"
fi

# Each child leads its own process group (setsid), so what it leaves behind (gunicorn's workers
# when the master died) is found and stopped too.
group_alive() { # $1 = process group id; true while a member that is not a zombie exists
    local f line state pgrp
    for f in /proc/[0-9]*/stat; do
        { read -r line <"$f"; } 2>/dev/null || continue
        read -r state _ pgrp _ <<<"${line##*) }"
        [[ $pgrp == "$1" && $state != Z ]] && return 0
    done
    return 1
}

for pid in "$web_pid" "$worker_pid"; do
    if running "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
    elif group_alive "$pid"; then
        kill -TERM -- "-$pid" 2>/dev/null || true
    fi
done

deadline=$((SECONDS + STOP_TIMEOUT))
while { group_alive "$web_pid" || group_alive "$worker_pid"; } && ((SECONDS < deadline)); do
    sleep 0.2
done
killed=""
for pid in "$web_pid" "$worker_pid"; do
    if group_alive "$pid"; then
        log "process group $pid still running after ${STOP_TIMEOUT}s; sending SIGKILL"
        kill -KILL -- "-$pid" 2>/dev/null || true
        killed=1
    fi
done

# Exit statuses (bash remembers them even for children already reaped by `wait -n`).
web_rc=0
worker_rc=0
wait "$web_pid" || web_rc=$?
wait "$worker_pid" || worker_rc=$?
log "api exited with $web_rc, worker exited with $worker_rc"

clean() { [[ $1 -eq 0 || $1 -eq 130 || $1 -eq 143 ]]; } # 0, or ended by the INT/TERM we sent
if [[ -n $stopping && -z $killed ]] && clean "$web_rc" && clean "$worker_rc"; then
    log "stopped cleanly"
    exit 0
fi
if [[ -n $died ]]; then
    # The one that died decides the status; a process that stopped "successfully" on its own is still a failure.
    rc=1
    [[ $died == api* && $web_rc -ne 0 ]] && rc=$web_rc
    [[ $died == worker && $worker_rc -ne 0 ]] && rc=$worker_rc
    exit "$rc"
fi
exit 1
