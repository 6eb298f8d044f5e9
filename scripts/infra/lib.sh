# shellcheck shell=bash disable=SC2034  # variables here are used by the scripts that source this file
# Shared settings and helpers for the native local stack (sourced, never executed).
#
# Everything the stack writes lives under "$LOCAL_DIR" (default: <repo>/.local, git-ignored), so a
# clone at any path gets its own independent stack as long as the ports are free.

# The repo root is derived from this file's location, not from $PWD, so the scripts work from any
# directory and any clone path.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL_DIR="${RECON_LOCAL_DIR:-$REPO/.local}"

# Ports are deliberately off the well-known defaults so the stack never collides with a system
# PostgreSQL on 5432, a system Redis on 6379 or a Kafka on 9092.
# The overrides exist so a second clone can run its own stack beside this one.
PG_PORT="${RECON_PG_PORT:-54321}"
REDIS_PORT="${RECON_REDIS_PORT:-63791}"
KAFKA_PORT="${RECON_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${RECON_KAFKA_CONTROLLER_PORT:-19093}"
BIND_HOST=127.0.0.1

# Versions: Kafka 4.1+ because 4.0 can crash at start without log4j-core (KAFKA-18483).
KAFKA_VERSION="${RECON_KAFKA_VERSION:-4.1.2}"
SCALA_BINARY_VERSION=2.13
LOG4J_VERSION=2.25.3
SLF4J_VERSION=2.0.17

PG_DIR="$LOCAL_DIR/pg"
# PostgreSQL runs as the 'postgres' OS user, which must reach its data directory. A clone under a
# private directory (e.g. /root/...) is not reachable, so the cluster then lives in a per-clone
# directory under /var/lib instead; everything else stays in .local/.
if [[ $EUID -eq 0 ]] && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$REPO" 2>/dev/null; then
    PG_DIR="/var/lib/recon-local/$(printf '%s' "$LOCAL_DIR" | sha256sum | cut -c1-12)/pg"
fi
PG_DATA="$PG_DIR/data"
PG_SOCKET_DIR="$PG_DIR/run"
PG_LOG="$PG_DIR/postgres.log"
PG_SUPERUSER=postgres
PG_SUPERUSER_PASSWORD=postgres
PG_APP_ROLE=recon
PG_APP_PASSWORD=recon
PG_APP_DB=recon

REDIS_DIR="$LOCAL_DIR/redis"
REDIS_PIDFILE="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"

KAFKA_DIR="$LOCAL_DIR/kafka"
KAFKA_LIBS="$KAFKA_DIR/libs"
KAFKA_LIBS_MARKER="$KAFKA_LIBS/.resolved"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_CONFIG_DIR="$KAFKA_DIR/config"
KAFKA_LOG_DIR="$KAFKA_DIR/logs"
KAFKA_PIDFILE="$KAFKA_DIR/kafka.pid"
KAFKA_STDOUT="$KAFKA_LOG_DIR/kafka.out"

STACK_ENV="$LOCAL_DIR/stack.env"
LOCK_FILE="$LOCAL_DIR/.infra.lock"

log() { printf '[infra %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

# One start/stop at a time per checkout: engineers share the machine and may run these concurrently.
# Every daemon is launched with `9>&-`: a daemon that inherited the lock fd would hold it forever.
LOCK_WAIT_S=600

lock_holders() {
    local fd holders=()
    for fd in /proc/[0-9]*/fd/*; do
        [[ "$(readlink "$fd" 2>/dev/null)" == "$LOCK_FILE" ]] && holders+=("${fd#/proc/}")
    done
    echo "${holders[*]%%/*}"
}

take_lock() {
    # A script called by another that already holds the lock (start.sh -> provision.sh) must not
    # wait for it: that would wait for itself.
    [[ "${RECON_INFRA_LOCK_HELD:-}" == 1 ]] && return
    mkdir -p "$LOCAL_DIR"
    exec 9>"$LOCK_FILE"
    if ! flock -n 9; then
        log "another infra script holds $LOCK_FILE; waiting up to ${LOCK_WAIT_S}s for it"
        flock -w "$LOCK_WAIT_S" 9 || die "still locked after ${LOCK_WAIT_S}s: $LOCK_FILE (holders: $(lock_holders))"
    fi
    export RECON_INFRA_LOCK_HELD=1
}

# PostgreSQL refuses to run as root, so as root its binaries run as the `postgres` OS user; a
# non-root developer simply runs them as themself. `cd /` avoids "could not change directory" noise.
as_pg_owner() {
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

pg_bin_dir() {
    local wanted="${RECON_PG_MAJOR:-15}"
    if [[ -x "/usr/lib/postgresql/$wanted/bin/initdb" ]]; then
        echo "/usr/lib/postgresql/$wanted/bin"
        return
    fi
    # Fall back to the newest installed major (e.g. a Debian release newer than bookworm).
    local found
    found="$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -name initdb -path '*/bin/*' 2>/dev/null |
        sort -V | tail -n 1)"
    [[ -n "$found" ]] || return 1
    dirname "$found"
}

# A pid file is trusted only if the process is alive AND its command line is the expected program:
# after a reboot or a wiped /proc the old pid may belong to something else entirely.
pid_matches() {
    local pid="$1" needle="$2"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$needle"
}

pidfile_pid() {
    local file="$1"
    [[ -s "$file" ]] || return 1
    head -n 1 "$file" | tr -dc '0-9'
}

port_in_use() {
    local port="$1"
    (exec 3<>"/dev/tcp/$BIND_HOST/$port") 2>/dev/null
}

# Runs a Python snippet in the repo's uv environment (aiokafka lives there).
repo_python() {
    (cd "$REPO" && uv run --no-sync python "$@")
}

postgres_is_healthy() {
    local bin
    bin="$(pg_bin_dir)" || return 1
    [[ -f "$PG_DATA/postmaster.pid" ]] || return 1
    pid_matches "$(head -n 1 "$PG_DATA/postmaster.pid")" postgres || return 1
    "$bin/pg_isready" -q -h "$BIND_HOST" -p "$PG_PORT" -t 3
}

redis_is_healthy() {
    local pid
    pid="$(pidfile_pid "$REDIS_PIDFILE")" || return 1
    pid_matches "$pid" redis-server || return 1
    [[ "$(redis-cli -h "$BIND_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == "PONG" ]]
}

kafka_pid_alive() {
    local pid
    pid="$(pidfile_pid "$KAFKA_PIDFILE")" || return 1
    pid_matches "$pid" kafka.Kafka
}

# Asks the broker for cluster metadata; succeeds only when a broker is registered and answering.
kafka_is_healthy() {
    local timeout="${1:-10}"
    kafka_pid_alive || return 1
    repo_python "$REPO/scripts/infra/kafka_probe.py" wait \
        --bootstrap "$BIND_HOST:$KAFKA_PORT" --timeout "$timeout" >/dev/null 2>&1
}

KAFKA_STOP_TIMEOUT_S=30

stop_kafka_process() {
    local pid
    pid="$(pidfile_pid "$KAFKA_PIDFILE")" || return 0
    if ! pid_matches "$pid" kafka.Kafka; then
        rm -f "$KAFKA_PIDFILE"
        return 0
    fi
    log "kafka: stopping pid $pid (SIGTERM, SIGKILL after ${KAFKA_STOP_TIMEOUT_S}s)"
    kill -TERM "$pid" 2>/dev/null || true
    # A stopped (SIGSTOP) JVM only acts on the TERM once it runs again.
    kill -CONT "$pid" 2>/dev/null || true
    local waited=0
    while pid_matches "$pid" kafka.Kafka; do
        if ((waited++ >= KAFKA_STOP_TIMEOUT_S)); then
            log "kafka: still alive after ${KAFKA_STOP_TIMEOUT_S}s; SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 1
            break
        fi
        sleep 1
    done
    rm -f "$KAFKA_PIDFILE"
}
