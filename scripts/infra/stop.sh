#!/usr/bin/env bash
# Stops the native local stack started by start.sh. Never touches the machine's own services.
#
#   scripts/infra/stop.sh                 # stop everything, keep data
#   scripts/infra/stop.sh --wipe          # stop everything and delete the data dirs (jars are kept)
#   scripts/infra/stop.sh redis kafka     # only these components (postgres|redis|kafka)
set -euo pipefail

# shellcheck source=scripts/infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stop_kafka() {
    if kafka_pid_alive; then
        stop_kafka_process
        log "kafka: stopped"
    else
        rm -f "$KAFKA_PIDFILE"
        log "kafka: not running"
    fi
}

stop_redis() {
    local pid
    if ! pid="$(pidfile_pid "$REDIS_PIDFILE")" || ! pid_matches "$pid" redis-server; then
        rm -f "$REDIS_PIDFILE"
        log "redis: not running"
        return
    fi
    # nosave: the stack keeps no Redis data worth a snapshot.
    redis-cli -h "$BIND_HOST" -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    local waited=0
    while pid_matches "$pid" redis-server; do
        if ((waited++ >= 10)); then
            log "redis: still alive after 10s; SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 1
    done
    rm -f "$REDIS_PIDFILE"
    log "redis: stopped"
}

stop_postgres() {
    local bin
    if ! bin="$(pg_bin_dir)" || [[ ! -f "$PG_DATA/postmaster.pid" ]]; then
        log "postgres: not running"
        return
    fi
    if ! as_pg_owner "$bin/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
        log "postgres: not running"
        return
    fi
    # fast: roll back open transactions and disconnect clients instead of waiting for them.
    as_pg_owner "$bin/pg_ctl" -D "$PG_DATA" -m fast -s -w -t 60 stop
    log "postgres: stopped"
}

wipe() {
    local component="$1"
    case "$component" in
        postgres) rm -rf "$PG_DIR" ;;
        redis) rm -rf "$REDIS_DIR" ;;
        # The resolved jars are kept: they are provisioning, not state.
        kafka) rm -rf "$KAFKA_DATA" "$KAFKA_LOG_DIR" "$KAFKA_DIR/cluster.id" ;;
    esac
    log "$component: data wiped"
}

main() {
    local wipe_data=false components=() arg
    for arg in "$@"; do
        case "$arg" in
            --wipe) wipe_data=true ;;
            postgres | redis | kafka) components+=("$arg") ;;
            *) die "unknown argument '$arg' (usage: stop.sh [--wipe] [postgres|redis|kafka ...])" ;;
        esac
    done
    [[ ${#components[@]} -gt 0 ]] || components=(kafka redis postgres)
    [[ -d "$LOCAL_DIR" ]] || {
        log "nothing to stop: $LOCAL_DIR does not exist"
        return
    }
    take_lock
    local component
    for component in "${components[@]}"; do
        "stop_$component"
    done
    if [[ "$wipe_data" == true ]]; then
        for component in "${components[@]}"; do
            wipe "$component"
        done
        rm -f "$STACK_ENV"
    fi
}

main "$@"
