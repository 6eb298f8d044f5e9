#!/usr/bin/env bash
# Starts the native local stack (PostgreSQL, Redis, Kafka KRaft) bound to 127.0.0.1, with all data
# under .local/, and writes .local/stack.env. Anything already running and healthy is left alone.
#
#   scripts/infra/start.sh                 # provision if needed, start everything
#   scripts/infra/start.sh kafka redis     # only these components (postgres|redis|kafka)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/infra/lib.sh
source "$SCRIPT_DIR/lib.sh"
# shellcheck source=scripts/infra/start_postgres.sh
source "$SCRIPT_DIR/start_postgres.sh"
# shellcheck source=scripts/infra/start_kafka.sh
source "$SCRIPT_DIR/start_kafka.sh"

REDIS_READY_TIMEOUT_S=30

start_redis() {
    if redis_is_healthy; then
        log "redis: already running (pid $(pidfile_pid "$REDIS_PIDFILE")) on $BIND_HOST:$REDIS_PORT"
        return
    fi
    local stale_pid
    if stale_pid="$(pidfile_pid "$REDIS_PIDFILE")" && pid_matches "$stale_pid" redis-server; then
        log "redis: pid $stale_pid alive but not answering PING; restarting it"
        kill "$stale_pid" 2>/dev/null || true
        sleep 1
    fi
    port_in_use "$REDIS_PORT" && die "redis: port $REDIS_PORT is taken by a process we did not start"
    mkdir -p "$REDIS_DIR"
    rm -f "$REDIS_PIDFILE"
    # Cache-only: no RDB snapshots and no AOF, so nothing is written to disk during tests.
    redis-server --daemonize yes --port "$REDIS_PORT" --bind "$BIND_HOST" --protected-mode yes \
        --dir "$REDIS_DIR" --save '' --appendonly no \
        --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" >/dev/null 9>&-
    local waited=0
    until redis_is_healthy; do
        ((waited++ < REDIS_READY_TIMEOUT_S)) || {
            tail -n 20 "$REDIS_LOG" >&2 || true
            die "redis: not answering PING after ${REDIS_READY_TIMEOUT_S}s (log: $REDIS_LOG)"
        }
        sleep 1
    done
    log "redis: started (pid $(pidfile_pid "$REDIS_PIDFILE"))"
}

write_stack_env() {
    local tmp="$STACK_ENV.tmp"
    cat >"$tmp" <<EOF
# Written by scripts/infra/start.sh; load with: source .local/stack.env
export RECON_PG_DSN=postgresql://$PG_APP_ROLE:$PG_APP_PASSWORD@$BIND_HOST:$PG_PORT/$PG_APP_DB
export RECON_PG_ADMIN_DSN=postgresql://$PG_SUPERUSER:$PG_SUPERUSER_PASSWORD@$BIND_HOST:$PG_PORT/postgres
export RECON_REDIS_URL=redis://$BIND_HOST:$REDIS_PORT/0
export RECON_KAFKA_BOOTSTRAP=$BIND_HOST:$KAFKA_PORT
EOF
    mv "$tmp" "$STACK_ENV"
    log "wrote $STACK_ENV"
}

# Topics come from the event catalogue (the lead's module), never from this script.
ensure_topics() {
    local catalogue="$REPO/libs/common/src/platform_common/topics.py"
    if [[ ! -f "$catalogue" ]]; then
        log "kafka: $catalogue not present yet; no topics created"
        return
    fi
    log "kafka: ensuring catalogue topics (python -m platform_common.topics ensure)"
    (cd "$REPO" && TOPICS_KAFKA__BOOTSTRAP_SERVERS="$BIND_HOST:$KAFKA_PORT" \
        uv run --no-sync python -m platform_common.topics ensure) ||
        die "kafka: 'python -m platform_common.topics ensure' failed (the broker itself is up)"
}

print_summary() {
    log "stack up:"
    [[ " $* " == *" postgres "* ]] &&
        log "  postgres  $BIND_HOST:$PG_PORT  (socket dir $PG_SOCKET_DIR, data $PG_DATA)"
    [[ " $* " == *" redis "* ]] &&
        log "  redis     $BIND_HOST:$REDIS_PORT  (dir $REDIS_DIR)"
    [[ " $* " == *" kafka "* ]] &&
        log "  kafka     $BIND_HOST:$KAFKA_PORT  (controller $BIND_HOST:$KAFKA_CONTROLLER_PORT, data $KAFKA_DATA)"
    log "  env       source $STACK_ENV"
}

main() {
    local components=("$@")
    [[ ${#components[@]} -gt 0 ]] || components=(postgres redis kafka)
    local component
    for component in "${components[@]}"; do
        [[ "$component" =~ ^(postgres|redis|kafka)$ ]] || die "unknown component '$component' (postgres|redis|kafka)"
    done

    local started_at=$SECONDS
    take_lock
    "$SCRIPT_DIR/provision.sh"
    for component in "${components[@]}"; do
        "start_$component"
    done
    write_stack_env
    [[ " ${components[*]} " == *" kafka "* ]] && ensure_topics
    print_summary "${components[@]}"
    log "start: done in $((SECONDS - started_at))s"
}

main "$@"
