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

json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

log "creating a project through the gateway"
project_id="$(curl -fsS -X POST "$GATEWAY/api/v2/projects" -H 'Content-Type: application/json' \
    -d '{"name": "Demo: bank vs ledger"}' | json_field id)"
left="$(python3 -c 'import uuid; print(uuid.uuid4())')"
right="$(python3 -c 'import uuid; print(uuid.uuid4())')"
job_id="$(curl -fsS -X POST "$GATEWAY/api/v2/projects/$project_id/jobs" -H 'Content-Type: application/json' \
    -d "{\"left_dataset_id\": \"$left\", \"right_dataset_id\": \"$right\"}" | json_field id)"
log "job $job_id started; following it through job.started -> shard.requested -> match.batch -> job.completed"
for _ in $(seq 1 60); do
    status="$(curl -fsS "$GATEWAY/api/v2/jobs/$job_id" | json_field status)"
    [[ "$status" == running ]] || break
    sleep 1
done
curl -fsS "$GATEWAY/api/v2/jobs/$job_id"; echo
[[ "$status" == succeeded ]] || { log "job did not complete (status $status)"; exit 1; }
log "job $job_id $status"
