#!/usr/bin/env bash
# Lint, type-check and run the whole suite with coverage gates. Expects the infrastructure to be up
# (scripts/dev test does that first). Extra arguments go to pytest.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# shellcheck disable=SC1091
source .local/stack.env

step() { printf '\n=== %s\n' "$*"; }

step "ruff"
uv run --no-sync ruff check .
step "mypy (strict for libs/common)"
uv run --no-sync mypy libs/common/src services/*/src

if [[ -x scripts/k8s/install-tools.sh ]]; then
    step "deployment tooling (helm, kubeconform, schemas, promtool)"
    scripts/k8s/install-tools.sh
fi

step "pytest with coverage"
rm -f .coverage .coverage.*
# coverage's subprocess patch also measures the service processes the end-to-end tests start.
uv run --no-sync coverage run -m pytest -p no:cacheprovider "$@"

step "coverage gates"
uv run --no-sync coverage combine -q
uv run --no-sync coverage report --include='libs/common/*' --fail-under=85
uv run --no-sync coverage report --fail-under=75
