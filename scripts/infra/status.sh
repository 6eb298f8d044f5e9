#!/usr/bin/env bash
# Prints up/down for each part of the native local stack. Exit 0 when all are up, 3 otherwise.
set -euo pipefail

# shellcheck source=scripts/infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

report() {
    local name="$1" state="$2" detail="$3"
    printf '%-9s %-5s %s\n' "$name" "$state" "$detail"
}

main() {
    local all_up=true pid

    if postgres_is_healthy; then
        report postgres up "$BIND_HOST:$PG_PORT pid $(head -n 1 "$PG_DATA/postmaster.pid") data $PG_DATA"
    else
        report postgres down "$BIND_HOST:$PG_PORT"
        all_up=false
    fi

    if redis_is_healthy; then
        report redis up "$BIND_HOST:$REDIS_PORT pid $(pidfile_pid "$REDIS_PIDFILE")"
    else
        report redis down "$BIND_HOST:$REDIS_PORT"
        all_up=false
    fi

    if kafka_is_healthy 10; then
        report kafka up "$BIND_HOST:$KAFKA_PORT pid $(pidfile_pid "$KAFKA_PIDFILE") version $KAFKA_VERSION"
    elif kafka_pid_alive; then
        pid="$(pidfile_pid "$KAFKA_PIDFILE")"
        report kafka down "$BIND_HOST:$KAFKA_PORT pid $pid alive but metadata not answering (starting?)"
        all_up=false
    else
        report kafka down "$BIND_HOST:$KAFKA_PORT"
        all_up=false
    fi

    [[ -f "$STACK_ENV" ]] && echo "env: source $STACK_ENV"
    [[ "$all_up" == true ]] || exit 3
}

main "$@"
