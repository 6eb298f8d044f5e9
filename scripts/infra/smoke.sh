#!/usr/bin/env bash
# Proves the running stack does real work with the credentials in .local/stack.env:
# PostgreSQL logins (app role and superuser) over TCP, Redis PING/SET/GET, and a Kafka round-trip
# (throwaway topic; idempotent + transactional produce; classic consumer group; topic deleted).
set -euo pipefail

# shellcheck source=scripts/infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -f "$STACK_ENV" ]] || die "no $STACK_ENV; run scripts/infra/start.sh first"
# shellcheck source=/dev/null
source "$STACK_ENV"

log "postgres: $(psql "$RECON_PG_DSN" -X -At -c "SELECT current_user || ' on ' || current_database() || ', ' || current_setting('server_version') || ', max_connections=' || current_setting('max_connections') || ', shared_buffers=' || current_setting('shared_buffers')")"
log "postgres: superuser $(psql "$RECON_PG_ADMIN_DSN" -X -At -c 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user')"
[[ "$(redis-cli -u "$RECON_REDIS_URL" ping)" == PONG ]] || die "redis: no PONG at $RECON_REDIS_URL"
redis-cli -u "$RECON_REDIS_URL" set infra:smoke ok EX 10 >/dev/null
[[ "$(redis-cli -u "$RECON_REDIS_URL" get infra:smoke)" == ok ]] || die "redis: SET/GET failed"
log "redis: PONG, SET/GET ok ($(redis-cli -u "$RECON_REDIS_URL" info server | tr -d '\r' | grep '^redis_version:'))"
log "kafka: $(repo_python "$REPO/scripts/infra/kafka_probe.py" roundtrip --bootstrap "$RECON_KAFKA_BOOTSTRAP")"
log "smoke: all ok"
