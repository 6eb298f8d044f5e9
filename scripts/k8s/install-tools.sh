#!/usr/bin/env bash
# Installs the offline toolchain that validates the deploy-as-code (tests/deploy) into <repo>/.local:
#   bin/helm, bin/kubeconform                      built with `go install` (Go caches under ~/.cache, ~/go)
#   k8s-schemas/kubernetes/v<ver>-local[-strict]/  Kubernetes JSON schemas from the PyPI kubernetes-validate
#   k8s-schemas/crds/<group>/<kind>_<version>.json Argo Rollouts + Prometheus Operator CRDs as JSON schemas
#   promtool (+ prometheus)                        Debian's prometheus package (system-wide, needs root)
# Idempotent: every step checks its own result first, so a rerun on a warm machine takes seconds and a
# fresh clone on a machine with warm Go caches only relinks the binaries.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL_DIR="${RECON_LOCAL_DIR:-$REPO/.local}"
BIN_DIR="$LOCAL_DIR/bin"
SCHEMA_DIR="$LOCAL_DIR/k8s-schemas"
WORK_DIR="$LOCAL_DIR/k8s-tools"

HELM_VERSION=v3.19.5
KUBECONFORM_VERSION=v0.7.0
KUBERNETES_VALIDATE_VERSION=1.37.0
# The Kubernetes minor we render and validate for; tests pass the same value to `helm template`.
KUBE_VERSION="${RECON_KUBE_VERSION:-1.30.0}"
ARGO_ROLLOUTS_VERSION=v1.9.1
PROMETHEUS_OPERATOR_VERSION=v0.85.0

log() { printf '[k8s-tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

TIMINGS=()
# Runs one named step and records its wall time, so the CI budget is visible in every log.
timed() {
    local name="$1"
    shift
    local started=$SECONDS
    "$@"
    TIMINGS+=("$(printf '%-22s %4ds' "$name" $((SECONDS - started)))")
}

# Module version baked into a Go binary (`go version -m`), so a stale binary from an older pin is rebuilt.
go_binary_has_module() {
    local binary="$1" module="$2" version="$3"
    [[ -x "$binary" ]] || return 1
    go version -m "$binary" 2>/dev/null | awk '$1 == "mod" {print $2, $3}' | grep -qx "$module $version"
}

# Builds are niced: the machine is shared and a Go build otherwise takes both cores.
go_install() {
    GOBIN="$BIN_DIR" GOFLAGS="${GOFLAGS:--buildvcs=false}" nice -n 10 go install "$@"
}

install_helm() {
    if go_binary_has_module "$BIN_DIR/helm" helm.sh/helm/v3 "$HELM_VERSION"; then
        log "helm $HELM_VERSION already installed"
        return
    fi
    log "building helm $HELM_VERSION (first build on a cold cache takes a few minutes)"
    # Release builds stamp the version and the default Kubernetes version through ldflags (Helm's
    # Makefile); without them `helm version` is empty and Helm assumes Kubernetes 1.20.
    local kube_minor
    kube_minor="$(cut -d. -f2 <<<"$KUBE_VERSION")"
    go_install -ldflags "-s -w \
        -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
        -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 \
        -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$kube_minor \
        -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 \
        -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$kube_minor" \
        "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

install_kubeconform() {
    if go_binary_has_module "$BIN_DIR/kubeconform" github.com/yannh/kubeconform "$KUBECONFORM_VERSION"; then
        log "kubeconform $KUBECONFORM_VERSION already installed"
        return
    fi
    log "building kubeconform $KUBECONFORM_VERSION"
    go_install -ldflags "-s -w" "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
}

# kubernetes-validate ships per-version schemas whose `$id` is https://kubernetes.io/... and whose
# `$ref`s are absolute paths on that host; kubeconform reads them from disk only after they are
# made relative (scripts/k8s/localize_schemas.py).
install_kubernetes_schemas() {
    local marker="$SCHEMA_DIR/kubernetes/.installed"
    local wanted="kubernetes-validate==$KUBERNETES_VALIDATE_VERSION kube=$KUBE_VERSION"
    if [[ -f "$marker" && "$(cat "$marker")" == "$wanted" ]]; then
        log "Kubernetes $KUBE_VERSION schemas already installed"
        return
    fi
    log "fetching Kubernetes $KUBE_VERSION schemas from kubernetes-validate $KUBERNETES_VALIDATE_VERSION"
    local venv="$WORK_DIR/kubernetes-validate-venv"
    rm -rf "$venv"
    uv venv -q --python 3.11 "$venv"
    uv pip install -q --python "$venv/bin/python" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
    local source_root
    source_root="$("$venv/bin/python" -c \
        'import kubernetes_validate, pathlib; print(pathlib.Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema")')"
    rm -rf "$SCHEMA_DIR/kubernetes"
    mkdir -p "$SCHEMA_DIR/kubernetes"
    local flavour
    for flavour in "v$KUBE_VERSION-local" "v$KUBE_VERSION-local-strict"; do
        [[ -d "$source_root/$flavour" ]] || die "kubernetes-validate has no $flavour schemas"
        cp -r "$source_root/$flavour" "$SCHEMA_DIR/kubernetes/$flavour"
    done
    "$venv/bin/python" "$REPO/scripts/k8s/localize_schemas.py" "$SCHEMA_DIR/kubernetes"
    # 100+ MB of other Kubernetes versions: not worth keeping, uv's cache makes a redo take seconds.
    rm -rf "$venv"
    echo "$wanted" >"$marker"
}

# Go module download: fetches a module's source zip from the proxy without building it, so the CRD
# manifests are available even for modules that `go install` cannot build (replace directives).
go_module_dir() {
    local module="$1" version="$2"
    (cd "$WORK_DIR" && GOFLAGS=-mod=mod go mod download -json "$module@$version") |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])'
}

install_crd_schemas() {
    local marker="$SCHEMA_DIR/crds/.installed"
    local wanted="argo-rollouts=$ARGO_ROLLOUTS_VERSION prometheus-operator=$PROMETHEUS_OPERATOR_VERSION"
    if [[ -f "$marker" && "$(cat "$marker")" == "$wanted" ]]; then
        log "CRD schemas already installed ($wanted)"
        return
    fi
    local argo_dir operator_dir
    argo_dir="$(go_module_dir github.com/argoproj/argo-rollouts "$ARGO_ROLLOUTS_VERSION")"
    operator_dir="$(go_module_dir github.com/prometheus-operator/prometheus-operator "$PROMETHEUS_OPERATOR_VERSION")"
    rm -rf "$SCHEMA_DIR/crds"
    mkdir -p "$SCHEMA_DIR/crds"
    # The converter only needs PyYAML; python3 from the repo's uv environment has it.
    (cd "$REPO" && uv run --no-sync python scripts/k8s/crd_to_jsonschema.py "$SCHEMA_DIR/crds" \
        "$argo_dir"/manifests/crds/*-crd.yaml \
        "$operator_dir/example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml" \
        "$operator_dir/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" \
        "$operator_dir/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml")
    echo "$wanted" >"$marker"
}

# Debian's maintainer scripts would start a system Prometheus on :9090; a policy-rc.d answering 101
# keeps apt from starting it (same approach as scripts/infra/provision.sh).
install_promtool() {
    if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
        log "promtool already installed ($(promtool --version 2>&1 | head -n 1))"
        return
    fi
    [[ $EUID -eq 0 ]] || die "promtool missing; run as root or: apt-get install -y prometheus"
    local policy=/usr/sbin/policy-rc.d added_policy=false
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        added_policy=true
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    [[ "$added_policy" == true ]] && rm -f "$policy"
    command -v promtool >/dev/null || die "prometheus package installed but promtool is not on PATH"
}

main() {
    command -v go >/dev/null || die "go not found (needed to build helm and kubeconform)"
    command -v uv >/dev/null || die "uv not found"
    mkdir -p "$BIN_DIR" "$SCHEMA_DIR" "$WORK_DIR"
    # A throwaway module root for `go mod download` outside any project module.
    [[ -f "$WORK_DIR/go.mod" ]] || printf 'module recon.local/k8s-tools\n\ngo 1.22\n' >"$WORK_DIR/go.mod"

    local started=$SECONDS
    timed helm install_helm
    timed kubeconform install_kubeconform
    timed kubernetes-schemas install_kubernetes_schemas
    timed crd-schemas install_crd_schemas
    timed promtool install_promtool

    log "done in $((SECONDS - started))s; per step:"
    local line
    for line in "${TIMINGS[@]}"; do
        log "  $line"
    done
    "$BIN_DIR/helm" version --short >&2
    "$BIN_DIR/kubeconform" -v >&2
}

main "$@"
