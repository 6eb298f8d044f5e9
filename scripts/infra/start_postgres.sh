# shellcheck shell=bash disable=SC2153  # settings come from lib.sh, sourced first by start.sh
# PostgreSQL part of start.sh (sourced). A private cluster in .local/pg/data, created and run with
# the Debian binaries directly (never pg_ctlcluster), so the machine's own cluster on 5432 is not
# touched whether it is running or not.

PG_START_TIMEOUT_S=120

# Settings for a test database. fsync stays on (a crash must not corrupt the cluster); dropping
# synchronous_commit only risks the last few commits on a crash, which tests never rely on.
write_postgres_conf() {
    cat >"$PG_DATA/recon-local.conf" <<EOF
# Managed by scripts/infra/start.sh; rewritten on every start.
listen_addresses = '$BIND_HOST'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
unix_socket_permissions = 0770
max_connections = 300
shared_buffers = 256MB
fsync = on
synchronous_commit = off
max_wal_size = 1GB
password_encryption = 'scram-sha-256'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_min_duration_statement = -1
EOF
    grep -q "^include_if_exists = 'recon-local.conf'" "$PG_DATA/postgresql.conf" ||
        echo "include_if_exists = 'recon-local.conf'" >>"$PG_DATA/postgresql.conf"
    [[ $EUID -ne 0 ]] || chown postgres:postgres "$PG_DATA/recon-local.conf"
}

prepare_postgres_dirs() {
    mkdir -p "$PG_DIR" "$PG_SOCKET_DIR"
    chmod 700 "$PG_SOCKET_DIR"
    if [[ $EUID -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || die "postgres: OS user 'postgres' missing (is the postgresql package installed?)"
        # Only when needed: a recursive chown of a big data dir on every start would be slow.
        [[ "$(stat -c %U "$PG_DIR")" == postgres && "$(stat -c %U "$PG_SOCKET_DIR")" == postgres ]] ||
            chown -R postgres:postgres "$PG_DIR"
    fi
    as_pg_owner test -w "$PG_DIR" ||
        die "postgres: the 'postgres' user cannot write $PG_DIR; a parent directory of the repo is probably not world-traversable (chmod o+x it or clone elsewhere)"
}

init_postgres_cluster() {
    local bin="$1"
    [[ -f "$PG_DATA/PG_VERSION" ]] && return
    log "postgres: initdb $PG_DATA (superuser '$PG_SUPERUSER')"
    rm -rf "$PG_DATA"
    local pwfile="$PG_DIR/.pwfile"
    printf '%s\n' "$PG_SUPERUSER_PASSWORD" >"$pwfile"
    [[ $EUID -ne 0 ]] || chown postgres:postgres "$pwfile"
    chmod 600 "$pwfile"
    # Socket connections (reachable only by root/postgres: the socket dir is 0700) trust the OS
    # user; TCP always requires a password, as in production.
    if ! as_pg_owner "$bin/initdb" -D "$PG_DATA" -U "$PG_SUPERUSER" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --no-locale \
        >"$PG_DIR/initdb.log" 2>&1; then
        rm -f "$pwfile"
        tail -n 20 "$PG_DIR/initdb.log" >&2
        die "postgres: initdb failed (log: $PG_DIR/initdb.log)"
    fi
    rm -f "$pwfile"
}

psql_as_superuser() {
    local bin="$1"
    shift
    as_pg_owner "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$PG_PORT" \
        -U "$PG_SUPERUSER" -d postgres "$@"
}

# Re-applied on every start so a password or attribute someone changed by hand is put back.
ensure_app_role_and_db() {
    local bin="$1"
    psql_as_superuser "$bin" <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_APP_ROLE') THEN
        CREATE ROLE $PG_APP_ROLE;
    END IF;
END
\$\$;
ALTER ROLE $PG_APP_ROLE WITH LOGIN CREATEDB CREATEROLE PASSWORD '$PG_APP_PASSWORD';
ALTER ROLE $PG_SUPERUSER WITH PASSWORD '$PG_SUPERUSER_PASSWORD';
SELECT 'CREATE DATABASE $PG_APP_DB OWNER $PG_APP_ROLE'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_APP_DB') \gexec
ALTER DATABASE $PG_APP_DB OWNER TO $PG_APP_ROLE;
SQL
}

start_postgres() {
    local bin
    bin="$(pg_bin_dir)" || die "postgres: server binaries not found; run scripts/infra/provision.sh"
    prepare_postgres_dirs

    if postgres_is_healthy; then
        log "postgres: already running (pid $(head -n 1 "$PG_DATA/postmaster.pid")) on $BIND_HOST:$PG_PORT"
        ensure_app_role_and_db "$bin"
        return
    fi

    init_postgres_cluster "$bin"
    write_postgres_conf

    local deadline=$((SECONDS + PG_START_TIMEOUT_S))
    until postgres_is_healthy; do
        # A server that is alive but not answering is most likely starting or recovering after a
        # crash: wait for it. One that is gone (or only a dying pid lingers) gets started.
        if ! as_pg_owner "$bin/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
            port_in_use "$PG_PORT" && die "postgres: port $PG_PORT is taken by a process we did not start"
            log "postgres: starting $("$bin/postgres" --version | awk '{print $3}') from $bin"
            as_pg_owner "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -s -w -t "$PG_START_TIMEOUT_S" start 9>&- || {
                tail -n 30 "$PG_LOG" >&2 || true
                die "postgres: pg_ctl start failed (log: $PG_LOG)"
            }
        fi
        ((SECONDS < deadline)) || die "postgres: not ready after ${PG_START_TIMEOUT_S}s (log: $PG_LOG)"
        postgres_is_healthy || sleep 1
    done
    ensure_app_role_and_db "$bin"
    log "postgres: ready (role/db '$PG_APP_ROLE')"
}
