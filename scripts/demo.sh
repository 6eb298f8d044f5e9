#!/usr/bin/env bash
# A demo reconciliation against the running platform (scripts/dev up calls this):
#  1. the embedded engine on the example bank statement vs ledger (no infrastructure involved);
#  2. a project and a job through the gateway, followed through Kafka until the job completes.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GATEWAY="${GATEWAY_URL:-http://127.0.0.1:8080}"
cd "$REPO"

log() { printf '[demo %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

example="$REPO/examples/bank-vs-ledger"
if [[ -f "$example/rules.yaml" ]]; then
    log "embedded engine: recon match bank.csv ledger.csv --rules rules.yaml"
    uv run --no-sync recon match "$example/bank.csv" "$example/ledger.csv" --rules "$example/rules.yaml" \
        --out "$REPO/.local/demo"
    log "summary: $REPO/.local/demo/summary.json"
fi

log "the platform: the same reconciliation through the gateway, Kafka and every service"
uv run --no-sync python "$REPO/scripts/demo.py"
