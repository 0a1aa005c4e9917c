#!/usr/bin/env bash
# Local Redis and Elasticsearch for development and tests, without Docker.
#
#   scripts/services.sh up       start what is missing (idempotent), wait until ready
#   scripts/services.sh down     stop only what this script started
#   scripts/services.sh status   state and URL of each service (exit 3 if one is down)
#   scripts/services.sh es-up|es-down|es-status   Elasticsearch only (with ES_INSTANCE: a separate node)
#
# Redis:          127.0.0.1:6380, Debian's redis-server, AOF (everysec), data in .services/redis/
# Elasticsearch:  127.0.0.1:9201 (transport 9301), the integ-test distribution fetched with Maven into
#                 .cache/elasticsearch/ and unpacked there; config, data (one folder per major
#                 version) and logs in .services/elasticsearch/; run as the system user
#                 stealthflow-es, since it refuses root. If that user cannot traverse the path to the
#                 repository (a clone under /root, mode 700), the unpacked distribution and the node's
#                 files go to /var/lib/stealthflow-es/ instead and .services/elasticsearch links there.
#
# Environment:
#   REDIS_URL / ELASTICSEARCH_URL   use that service instead; nothing is started for it
#   ES_VERSION        Elasticsearch version (default 9.2.4)
#   ES_HEAP           heap size, -Xms/-Xmx (default 512m); extra JVM flags in ES_JAVA_OPTS
#   ES_JAVA_HOME      JDK for Elasticsearch (default: newest suitable JDK under /usr/lib/jvm)
#   ES_START_TIMEOUT  seconds to wait for the node (default 180)
#
#   ES_INSTANCE, ES_HTTP_PORT, ES_TRANSPORT_PORT   a separate, named node on other ports
#
# A service that already answers on its port is reused and never stopped by `down`. What `up`
# started is recorded in .services/<service>.started; `down` stops exactly those (including
# named instances still running).
set -euo pipefail
umask 022

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
SERVICES_DIR="$ROOT/.services"
CACHE_DIR="$ROOT/.cache/elasticsearch"

REDIS_HOST=127.0.0.1
REDIS_PORT=6380
REDIS_DIR="$SERVICES_DIR/redis"
REDIS_MARKER="$SERVICES_DIR/redis.started"
REDIS_LOCAL_URL="redis://$REDIS_HOST:$REDIS_PORT/0"

ES_VERSION="${ES_VERSION:-9.2.4}"
ES_HEAP="${ES_HEAP:-512m}"
ES_START_TIMEOUT="${ES_START_TIMEOUT:-180}"
ES_HOST=127.0.0.1
# A second, separate node (own ports, config, data), e.g. for tests that stop and restart it:
#   ES_INSTANCE=chaos ES_HTTP_PORT=19201 ES_TRANSPORT_PORT=19301 scripts/services.sh es-up
ES_INSTANCE="${ES_INSTANCE:-}"
ES_HTTP_PORT="${ES_HTTP_PORT:-9201}"
ES_TRANSPORT_PORT="${ES_TRANSPORT_PORT:-9301}"
ES_USER=stealthflow-es
ES_NAME="elasticsearch${ES_INSTANCE:+-$ES_INSTANCE}"
ES_CLUSTER_NAME="stealthflow-local${ES_INSTANCE:+-$ES_INSTANCE}"
ES_MARKER="$SERVICES_DIR/$ES_NAME.started"
ES_LOCAL_URL="http://$ES_HOST:$ES_HTTP_PORT"
# Used only when $ES_USER cannot reach the repository (e.g. a clone under /root, mode 700).
ES_OUTSIDE_ROOT=/var/lib/stealthflow-es

MIN_FREE_KIB=$((1024 * 1024))
APT_UPDATED=0
ES_DIST=""

log() { printf '[services] %s\n' "$*"; }
warn() { printf '[services] WARNING: %s\n' "$*" >&2; }
die() {
    printf '[services] ERROR: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------- helpers

apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "missing $*, and there is no apt-get here: install $* and re-run"
    [[ $(id -u) -eq 0 ]] || die "missing $*: install it (as root: apt-get install -y $*) and re-run"
    if ((!APT_UPDATED)); then
        log "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || die "apt-get update failed"
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    local out
    if ! out="$(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" 2>&1)"; then
        printf '%s\n' "$out" | tail -n 20 >&2
        die "apt-get install $* failed"
    fi
}

# need <command> <debian package>
need() {
    command -v "$1" >/dev/null 2>&1 || apt_install "$2"
    command -v "$1" >/dev/null 2>&1 || die "$1 still not found after installing $2"
}

# True while the process exists and is not a zombie (a container's PID 1 may never reap it).
pid_alive() {
    local pid="$1" state
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    state="$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null)" || return 1
    [[ -n $state && $state != Z ]]
}

# pid_is <pid> <pattern>: alive and its command line matches (guards against pid reuse).
pid_is() {
    local cmdline
    pid_alive "$1" || return 1
    cmdline="$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)" || return 1
    [[ $cmdline == *"$2"* ]]
}

read_pidfile() {
    [[ -s $1 ]] && tr -dc '0-9' <"$1"
    return 0
}

# marker_get <marker file> <key>
marker_get() {
    [[ -f $1 ]] && sed -n "s/^$2=//p" "$1" | head -n 1
    return 0
}

port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

port_owner() {
    command -v ss >/dev/null 2>&1 || return 0
    ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/ (held by \1)/p' | head -n 1
}

# stop_pid <name> <pid> <seconds before SIGKILL>
stop_pid() {
    local name="$1" pid="$2" grace="$3" waited=0
    log "$name: stopping pid $pid (SIGTERM)"
    kill -TERM "$pid" 2>/dev/null || true
    while pid_alive "$pid"; do
        if ((waited >= grace * 2)); then
            warn "$name: still running after ${grace}s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 1
            break
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
    if pid_alive "$pid"; then
        die "$name: pid $pid did not stop"
    fi
    log "$name: stopped"
}

require_disk() {
    local dir="$1" what="$2" free
    free="$(df -Pk "$dir" | awk 'NR == 2 {print $4}')"
    if [[ -n $free ]] && ((free < MIN_FREE_KIB)); then
        die "$what needs at least 1 GiB free on the file system of $dir; only $((free / 1024)) MiB left. Free some space and re-run."
    fi
}

lock() {
    mkdir -p "$SERVICES_DIR"
    exec 9>"$SERVICES_DIR/.lock"
    if command -v flock >/dev/null 2>&1; then
        flock -w 300 9 || die "another services.sh is still running (lock $SERVICES_DIR/.lock)"
    fi
}

# ---------------------------------------------------------------- Redis

# First line of the answer to PING on the Redis port, empty when nothing sensible answers.
redis_ping() {
    (
        exec 3<>"/dev/tcp/$REDIS_HOST/$REDIS_PORT" || exit 0
        printf 'PING\r\n' >&3
        IFS= read -r -t 3 line <&3 || exit 0
        printf '%s\n' "${line%$'\r'}"
    ) 2>/dev/null || true
}

# redis_wait_pong <seconds> [pidfile]: true once PING answers PONG (a Redis replaying a large AOF
# answers -LOADING for a while first); false early if the process of pidfile is gone.
redis_wait_pong() {
    local deadline=$((SECONDS + $1)) pidfile="${2:-}" started="$SECONDS" pid
    while ((SECONDS < deadline)); do
        [[ $(redis_ping) == "+PONG" ]] && return 0
        if [[ -n $pidfile ]]; then
            pid="$(read_pidfile "$pidfile")"
            if [[ -n $pid ]]; then
                pid_alive "$pid" || return 1
            elif ((SECONDS - started >= 10)); then
                return 1 # a daemonized redis-server writes its pidfile at once
            fi
        fi
        sleep 0.2
    done
    [[ $(redis_ping) == "+PONG" ]]
}

redis_our_pid() {
    local pid
    [[ -f $REDIS_MARKER ]] || return 0
    pid="$(read_pidfile "$(marker_get "$REDIS_MARKER" pidfile)")"
    pid_is "$pid" redis-server && printf '%s\n' "$pid"
    return 0
}

redis_up() {
    if [[ -n ${REDIS_URL:-} ]]; then
        log "redis: REDIS_URL is set ($REDIS_URL); not starting a local Redis"
        return
    fi
    local reply pid
    reply="$(redis_ping)"
    if [[ $reply == "+PONG" ]]; then
        pid="$(redis_our_pid)"
        if [[ -n $pid ]]; then
            log "redis: already running (pid $pid) at $REDIS_LOCAL_URL"
        else
            log "redis: reusing the Redis already answering at $REDIS_LOCAL_URL (it will not be stopped by 'down')"
        fi
        return
    fi
    if [[ $reply == -LOADING* ]]; then
        log "redis: the Redis at $REDIS_LOCAL_URL is loading its data; waiting"
        redis_wait_pong 120 || die "the Redis at $REDIS_LOCAL_URL is still loading after 120s"
        log "redis: reusing the Redis at $REDIS_LOCAL_URL"
        return
    fi
    if [[ $reply == -NOAUTH* || $reply == -WRONGPASS* ]]; then
        die "a Redis with a password already holds port $REDIS_PORT$(port_owner "$REDIS_PORT"). Stop it, or point REDIS_URL at it (redis://:password@127.0.0.1:$REDIS_PORT/0)."
    fi
    if port_open "$REDIS_PORT"; then
        die "port $REDIS_PORT is in use by something that is not Redis$(port_owner "$REDIS_PORT"). Stop it, or set REDIS_URL to a Redis elsewhere."
    fi

    need redis-server redis-server
    mkdir -p "$REDIS_DIR"
    rm -f "$REDIS_MARKER"
    cat >"$REDIS_DIR/redis.conf" <<EOF
# Written by scripts/services.sh; edits are overwritten on every 'up'.
bind $REDIS_HOST
port $REDIS_PORT
protected-mode yes
daemonize yes
supervised no
pidfile $REDIS_DIR/redis.pid
logfile $REDIS_DIR/redis.log
dir $REDIS_DIR
appendonly yes
appendfsync everysec
save 3600 1 300 100 60 10000
EOF
    log "redis: starting on $REDIS_HOST:$REDIS_PORT (data in ${REDIS_DIR#"$ROOT"/})"
    rm -f "$REDIS_DIR/redis.pid"
    redis-server "$REDIS_DIR/redis.conf" 9>&- || die "redis-server failed to start; see $REDIS_DIR/redis.log"
    printf 'pidfile=%s\nstarted_at=%s\n' "$REDIS_DIR/redis.pid" "$(date -Is)" >"$REDIS_MARKER"

    if ! redis_wait_pong 120 "$REDIS_DIR/redis.pid"; then
        tail -n 20 "$REDIS_DIR/redis.log" >&2 || true
        redis_down
        die "redis did not come up (log above: $REDIS_DIR/redis.log)"
    fi
    log "redis: ready at $REDIS_LOCAL_URL (pid $(redis_our_pid))"
}

redis_down() {
    if [[ ! -f $REDIS_MARKER ]]; then
        log "redis: not started by services.sh, leaving it alone"
        return
    fi
    local pid
    pid="$(redis_our_pid)"
    if [[ -n $pid ]]; then
        stop_pid redis "$pid" 30
    else
        log "redis: was started by services.sh but is no longer running"
    fi
    rm -f "$REDIS_MARKER"
}

redis_status() {
    if [[ -n ${REDIS_URL:-} ]]; then
        printf '%-14s %-9s %s\n' redis external "$REDIS_URL (REDIS_URL; not managed here)"
        return 0
    fi
    local pid
    if [[ $(redis_ping) == "+PONG" ]]; then
        pid="$(redis_our_pid)"
        if [[ -n $pid ]]; then
            printf '%-14s %-9s %s\n' redis running "$REDIS_LOCAL_URL (started by services.sh, pid $pid)"
        else
            printf '%-14s %-9s %s\n' redis running "$REDIS_LOCAL_URL (not started by services.sh)"
        fi
        return 0
    fi
    printf '%-14s %-9s %s\n' redis stopped "$REDIS_LOCAL_URL"
    return 3
}

# ---------------------------------------------------------------- Elasticsearch

es_major() { printf '%s\n' "${ES_VERSION%%.*}"; }

es_health() {
    curl -fsS --max-time "${2:-5}" "$ES_LOCAL_URL/_cluster/health${1:-}" 2>/dev/null
}

es_our_pid() {
    local pid
    [[ -f $ES_MARKER ]] || return 0
    pid="$(read_pidfile "$(marker_get "$ES_MARKER" pidfile)")"
    pid_is "$pid" org.elasticsearch && printf '%s\n' "$pid"
    return 0
}

# Where the node's config, data and logs live. In the repository, unless $ES_USER cannot
# traverse the path to it (a clone under /root, or a checkout with mode 700): then under
# $ES_OUTSIDE_ROOT, one folder per clone, with .services/elasticsearch a symlink to it.
es_state_dir() {
    local link="$SERVICES_DIR/$ES_NAME"
    if [[ -L $link ]]; then
        readlink -f "$link"
    elif [[ -d $link ]] || es_user_can_reach "$ROOT"; then
        printf '%s\n' "$link"
    else
        printf '%s/state/%s-%s%s\n' "$ES_OUTSIDE_ROOT" "$(basename "$ROOT")" \
            "$(printf '%s' "$ROOT" | sha1sum | cut -c1-8)" "${ES_INSTANCE:+-$ES_INSTANCE}"
    fi
}

es_dist_parent() {
    if es_user_can_reach "$ROOT"; then
        printf '%s\n' "$CACHE_DIR"
    else
        printf '%s/dist\n' "$ES_OUTSIDE_ROOT"
    fi
}

es_user_can_reach() {
    runuser -u "$ES_USER" -- test -x "$1" 2>/dev/null
}

ensure_es_user() {
    id -u "$ES_USER" >/dev/null 2>&1 && return
    [[ $(id -u) -eq 0 ]] || die "Elasticsearch refuses to run as root and needs the system user $ES_USER; run this once as root to create it"
    log "$ES_NAME: creating system user $ES_USER"
    if command -v useradd >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$ES_USER"
    else
        adduser --system --group --no-create-home --home /nonexistent "$ES_USER" >/dev/null
    fi
}

# Major version of the JDK at $1, e.g. 25 for "25.0.3", 8 for "1.8.0_402".
java_major() {
    local out v
    out="$("$1/bin/java" -version 2>&1)" || return 1
    v="$(sed -n 's/.*version "\([^"]*\)".*/\1/p' <<<"$out" | head -n 1)"
    [[ $v == 1.* ]] && v="${v#1.}"
    v="${v%%[!0-9]*}"
    [[ -n $v ]] && printf '%s\n' "$v"
}

choose_java_home() {
    local required=17 jh major best="" best_major=0
    (($(es_major) >= 9)) && required=21
    if [[ -n ${ES_JAVA_HOME:-} ]]; then
        [[ -x $ES_JAVA_HOME/bin/java ]] || die "ES_JAVA_HOME=$ES_JAVA_HOME has no bin/java"
        major="$(java_major "$ES_JAVA_HOME")" || die "cannot run $ES_JAVA_HOME/bin/java"
        ((major >= required)) ||
            die "Elasticsearch $ES_VERSION needs Java >= $required; ES_JAVA_HOME=$ES_JAVA_HOME is Java $major"
        printf '%s\n' "$ES_JAVA_HOME"
        return
    fi
    for jh in /usr/lib/jvm/*/; do
        jh="$(readlink -f "${jh%/}")"
        [[ -x $jh/bin/java ]] || continue
        major="$(java_major "$jh")" || continue
        if ((major > best_major)); then
            best="$jh"
            best_major="$major"
        fi
    done
    if [[ -z $best ]] || ((best_major < required)); then
        die "Elasticsearch $ES_VERSION needs a JDK >= $required and none was found under /usr/lib/jvm (newest: ${best:-none}${best:+, Java $best_major}). Install one (e.g. Temurin 21 or 25) or set ES_JAVA_HOME."
    fi
    printf '%s\n' "$best"
}

# Download (if needed) and unpack the distribution into $ES_DIST.
es_dist() {
    local parent zip dist tmp
    parent="$(es_dist_parent)"
    zip="$CACHE_DIR/elasticsearch-$ES_VERSION.zip"
    dist="$parent/elasticsearch-$ES_VERSION"
    ES_DIST="$dist"
    if [[ -x $dist/bin/elasticsearch ]]; then
        [[ $(stat -c %U "$dist") == "$ES_USER" ]] || chown -R "$ES_USER:" "$dist"
        return
    fi
    mkdir -p "$CACHE_DIR" "$parent"
    chmod 755 "$ROOT/.cache" "$CACHE_DIR" "$parent" 2>/dev/null || true
    if [[ ! -s $zip ]]; then
        require_disk "$CACHE_DIR" "Downloading Elasticsearch"
        need mvn maven
        log "$ES_NAME: downloading integ-test-zip $ES_VERSION with Maven (about 100 MB)"
        tmp="$(mktemp -d "$CACHE_DIR/.download.XXXXXX")"
        if ! (cd "$tmp" && mvn -q -B dependency:copy \
            "-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:${ES_VERSION}:zip" \
            "-DoutputDirectory=$tmp" >"$tmp/mvn.log" 2>&1); then
            grep -E '^\[(ERROR|WARN)' "$tmp/mvn.log" | head -n 5 >&2 || true
            rm -rf "$tmp"
            die "could not download Elasticsearch $ES_VERSION with Maven. Is that version published as org.elasticsearch.distribution.integ-test-zip:elasticsearch? (9.2.4 and 8.19.21 are.) Set ES_VERSION to a published one."
        fi
        mv "$tmp/elasticsearch-$ES_VERSION.zip" "$zip"
        rm -rf "$tmp"
    fi
    need unzip unzip
    require_disk "$parent" "Unpacking Elasticsearch"
    log "$ES_NAME: unpacking ${zip#"$ROOT"/} into ${parent#"$ROOT"/}"
    tmp="$(mktemp -d "$parent/.unpack.XXXXXX")"
    if ! unzip -q "$zip" -d "$tmp"; then
        rm -rf "$tmp"
        rm -f "$zip"
        die "$zip is damaged and was removed; re-run to download it again"
    fi
    rm -rf "$dist"
    mv "$tmp/elasticsearch-$ES_VERSION" "$dist"
    rm -rf "$tmp"
    chown -R "$ES_USER:" "$dist"
}

# Config folder = the distribution's config + our elasticsearch.yml. Re-copied when the version changes.
es_write_config() {
    local dist="$1" state="$2" conf="$2/config"
    if [[ $(cat "$conf/.es-version" 2>/dev/null) != "$ES_VERSION" ]]; then
        rm -rf "$conf"
        cp -a "$dist/config" "$conf"
        printf '%s\n' "$ES_VERSION" >"$conf/.es-version"
    fi
    # One data folder per major version: switching ES_VERSION between 8.x and 9.x must not make a
    # node read (and refuse) the other's data. Downgrades within a major are refused by Elasticsearch.
    mkdir -p "$state/data-$(es_major)" "$state/logs"
    # Temporary files of the launcher and the node stay here instead of piling up in /tmp.
    rm -rf "$state/tmp"
    mkdir -p "$state/tmp"
    cat >"$conf/elasticsearch.yml" <<EOF
# Written by scripts/services.sh; edits are overwritten on every 'up'.
cluster.name: $ES_CLUSTER_NAME
node.name: $ES_CLUSTER_NAME-1
discovery.type: single-node
network.host: $ES_HOST
http.port: $ES_HTTP_PORT
transport.port: $ES_TRANSPORT_PORT
path.data: $state/data-$(es_major)
path.logs: $state/logs
xpack.security.enabled: false
action.destructive_requires_name: false
cluster.routing.allocation.disk.threshold_enabled: false
indices.breaker.total.use_real_memory: false
EOF
    chown -R "$ES_USER:" "$state"
}

es_log_tail() {
    local state="$1"
    printf -- '---- %s (last 40 lines) ----\n' "$state/logs/$ES_CLUSTER_NAME.log" >&2
    tail -n 40 "$state/logs/$ES_CLUSTER_NAME.log" >&2 2>/dev/null || printf '(no log yet)\n' >&2
    if [[ -s $state/launcher.log ]]; then
        printf -- '---- %s (last 20 lines) ----\n' "$state/launcher.log" >&2
        tail -n 20 "$state/launcher.log" >&2
    fi
}

# Wait for yellow; on failure print the logs, stop what we started, and fail.
es_wait_ready() {
    local state="$1" launcher_pid="${2:-}" started="$SECONDS" rc pid
    log "$ES_NAME: waiting for the node (up to ${ES_START_TIMEOUT}s)"
    while :; do
        if es_health "?wait_for_status=yellow&timeout=5s" 10 >/dev/null; then
            log "$ES_NAME: ready at $ES_LOCAL_URL after $((SECONDS - started))s ($(es_health | sed -n 's/.*"status" *: *"\([a-z]*\)".*/\1/p'))"
            return
        fi
        if [[ -n $launcher_pid ]] && ! pid_alive "$launcher_pid"; then
            rc=0
            wait "$launcher_pid" || rc=$?
            launcher_pid=""
            if ((rc != 0)); then
                es_log_tail "$state"
                es_abort_start
                die "$ES_NAME exited during startup (status $rc); see the log above"
            fi
        fi
        if [[ -f $ES_MARKER && -z $launcher_pid ]]; then
            pid="$(read_pidfile "$(marker_get "$ES_MARKER" pidfile)")"
            if [[ -n $pid ]] && ! pid_alive "$pid"; then
                es_log_tail "$state"
                es_abort_start
                die "$ES_NAME (pid $pid) died during startup; see the log above"
            fi
        fi
        if ((SECONDS - started >= ES_START_TIMEOUT)); then
            es_log_tail "$state"
            es_abort_start
            die "$ES_NAME did not reach yellow within ${ES_START_TIMEOUT}s (raise ES_START_TIMEOUT, or see the log above)"
        fi
        sleep 1
    done
}

es_abort_start() {
    local pid
    pid="$(es_our_pid)"
    if [[ -n $pid ]]; then
        stop_pid "$ES_NAME" "$pid" 30
    fi
    rm -f "$ES_MARKER"
}

es_up() {
    if [[ -n ${ELASTICSEARCH_URL:-} ]]; then
        log "$ES_NAME: ELASTICSEARCH_URL is set ($ELASTICSEARCH_URL); not starting a local node"
        return
    fi
    need curl curl
    local pid state body
    pid="$(es_our_pid)"
    if [[ -n $pid ]]; then
        state="$(marker_get "$ES_MARKER" state)"
        local running_version
        running_version="$(marker_get "$ES_MARKER" version)"
        if [[ $running_version != "$ES_VERSION" ]]; then
            die "Elasticsearch $running_version is running (pid $pid, started by services.sh) but ES_VERSION=$ES_VERSION was asked for; run 'scripts/services.sh down' first to switch versions"
        fi
        log "$ES_NAME: already running $running_version (pid $pid)"
        es_wait_ready "$state"
        return
    fi
    if body="$(es_health "" 5)" && [[ $body == *'"cluster_name"'* ]]; then
        log "$ES_NAME: reusing the node already answering at $ES_LOCAL_URL (it will not be stopped by 'down')"
        local versions
        versions="$(curl -fsS --max-time 5 "$ES_LOCAL_URL/_nodes/_local?filter_path=nodes.*.version" 2>/dev/null |
            sed -n 's/.*"version" *: *"\([^"]*\)".*/\1/p')" || true
        if [[ -n $versions && $versions != "$ES_VERSION" ]]; then
            warn "that node runs Elasticsearch $versions, not ES_VERSION=$ES_VERSION"
        fi
        return
    fi
    if port_open "$ES_HTTP_PORT"; then
        die "port $ES_HTTP_PORT is in use by something that does not answer /_cluster/health like Elasticsearch$(port_owner "$ES_HTTP_PORT"). Stop it, or set ELASTICSEARCH_URL."
    fi
    if port_open "$ES_TRANSPORT_PORT"; then
        die "transport port $ES_TRANSPORT_PORT is already in use$(port_owner "$ES_TRANSPORT_PORT"). Stop whatever holds it (another Elasticsearch?) and re-run."
    fi
    rm -f "$ES_MARKER"

    ensure_es_user
    local java_home dist es_pidfile launcher_pid
    java_home="$(choose_java_home)"
    state="$(es_state_dir)"
    if [[ $state != "$SERVICES_DIR/$ES_NAME" ]]; then
        log "$ES_NAME: $ES_USER cannot reach $ROOT (a parent folder lacks o+x); keeping the node's files in $state"
        mkdir -p "$state"
        [[ -L $SERVICES_DIR/$ES_NAME ]] || ln -sfn "$state" "$SERVICES_DIR/$ES_NAME"
    fi
    mkdir -p "$state"
    chmod 755 "$SERVICES_DIR"
    require_disk "$state" "Elasticsearch"
    es_dist
    dist="$ES_DIST"
    es_write_config "$dist" "$state"
    if ! es_user_can_reach "$dist/bin/elasticsearch" || ! es_user_can_reach "$state/config"; then
        die "$ES_USER cannot reach $dist or $state; make their parent folders traversable (chmod o+x) and re-run"
    fi
    es_user_can_reach "$java_home/bin/java" ||
        die "$ES_USER cannot run $java_home/bin/java; set ES_JAVA_HOME to a JDK outside private folders"

    es_pidfile="$state/elasticsearch.pid"
    rm -f "$es_pidfile"
    printf 'pidfile=%s\nstate=%s\nversion=%s\nstarted_at=%s\n' \
        "$es_pidfile" "$state" "$ES_VERSION" "$(date -Is)" >"$ES_MARKER"
    log "$ES_NAME: starting $ES_VERSION on $ES_HOST:$ES_HTTP_PORT as $ES_USER (Java $(java_major "$java_home"), heap $ES_HEAP, files in ${state#"$ROOT"/})"
    (
        cd "$dist"
        # Elasticsearch warns below 65535 open files; root may raise the limit for its child.
        ulimit -n 65535 2>/dev/null || true
        exec runuser -u "$ES_USER" -- env -i \
            PATH=/usr/local/bin:/usr/bin:/bin \
            HOME="$state" \
            LANG=C.UTF-8 \
            ES_JAVA_HOME="$java_home" \
            ES_PATH_CONF="$state/config" \
            ES_TMPDIR="$state/tmp" \
            CLI_JAVA_OPTS="-Djava.io.tmpdir=$state/tmp" \
            ES_JAVA_OPTS="-Xms$ES_HEAP -Xmx$ES_HEAP ${ES_JAVA_OPTS:-}" \
            "$dist/bin/elasticsearch" -d -p "$es_pidfile"
    ) </dev/null >"$state/launcher.log" 2>&1 9>&- &
    launcher_pid=$!
    es_wait_ready "$state" "$launcher_pid"
    pid="$(es_our_pid)"
    [[ -n $pid ]] && log "$ES_NAME: pid $pid, log $state/logs/$ES_CLUSTER_NAME.log"
    return 0
}

es_down() {
    es_stop_marked "$ES_MARKER" "$ES_NAME"
}

# es_stop_marked <marker> <name>: stop the node a marker records, then drop the marker.
es_stop_marked() {
    local marker="$1" name="$2" pid
    if [[ ! -f $marker ]]; then
        log "$name: not started by services.sh, leaving it alone"
        return
    fi
    pid="$(read_pidfile "$(marker_get "$marker" pidfile)")"
    if pid_is "$pid" org.elasticsearch; then
        stop_pid "$name" "$pid" 60
    else
        log "$name: was started by services.sh but is no longer running"
    fi
    rm -f "$marker"
}

# Extra instances (ES_INSTANCE) that are still recorded, e.g. left by an interrupted test run.
es_down_instances() {
    local marker name
    for marker in "$SERVICES_DIR"/elasticsearch-*.started; do
        [[ -f $marker && $marker != "$ES_MARKER" ]] || continue
        name="$(basename "$marker" .started)"
        es_stop_marked "$marker" "$name"
    done
}

es_status() {
    if [[ -n ${ELASTICSEARCH_URL:-} ]]; then
        printf '%-14s %-9s %s\n' "$ES_NAME" external "$ELASTICSEARCH_URL (ELASTICSEARCH_URL; not managed here)"
        return 0
    fi
    local body pid color who
    if body="$(es_health "" 5)" && [[ $body == *'"cluster_name"'* ]]; then
        color="$(sed -n 's/.*"status" *: *"\([a-z]*\)".*/\1/p' <<<"$body")"
        pid="$(es_our_pid)"
        who="not started by services.sh"
        [[ -n $pid ]] && who="$(marker_get "$ES_MARKER" version), started by services.sh, pid $pid"
        printf '%-14s %-9s %s\n' "$ES_NAME" running "$ES_LOCAL_URL (health $color, $who)"
        return 0
    fi
    pid="$(es_our_pid)"
    if [[ -n $pid ]]; then
        printf '%-14s %-9s %s\n' "$ES_NAME" starting "$ES_LOCAL_URL (pid $pid, not answering yet)"
    else
        printf '%-14s %-9s %s\n' "$ES_NAME" stopped "$ES_LOCAL_URL"
    fi
    return 3
}

# ---------------------------------------------------------------- main

usage() {
    printf 'usage: %s up|down|status|es-up|es-down|es-status\n' "$0" >&2
    exit 2
}

[[ $# -eq 1 ]] || usage
[[ -z $ES_INSTANCE || $ES_INSTANCE =~ ^[a-z0-9][a-z0-9_-]*$ ]] ||
    die "ES_INSTANCE must be lowercase letters, digits, '_' or '-', got '$ES_INSTANCE'"
case "$1" in
up)
    lock
    redis_up
    es_up
    log "up: done"
    ;;
down)
    lock
    es_down
    es_down_instances
    redis_down
    ;;
status)
    rc=0
    redis_status || rc=$?
    es_status || rc=$?
    exit "$rc"
    ;;
es-up)
    lock
    es_up
    ;;
es-down)
    lock
    es_down
    ;;
es-status)
    es_status
    ;;
*) usage ;;
esac
