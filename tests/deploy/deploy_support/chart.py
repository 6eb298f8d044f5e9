"""Rendering charts/platform with the real helm binary, and looking things up in the result."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import yaml

from deploy_support.tools import KUBE_VERSION, REPO, tool

CHART = REPO / "charts" / "platform"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
RELEASE = "recon"
NAMESPACE = "recon"
HTTP_SERVICES = ("gateway", "projects", "files", "results")
SERVICES = (*HTTP_SERVICES, "matcher")
WORKLOAD_KINDS = ("Deployment", "Rollout")

Manifest = dict[str, Any]


def helm_template(*extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool("helm")), "template", RELEASE, str(CHART), "--namespace", NAMESPACE,
         "--kube-version", KUBE_VERSION, *extra],
        capture_output=True, text=True, timeout=120, check=check,
    )


def parse(text: str) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def render(*extra: str) -> list[Manifest]:
    return parse(helm_template(*extra).stdout)


def of_kind(manifests: list[Manifest], *kinds: str) -> list[Manifest]:
    return [doc for doc in manifests if doc["kind"] in kinds]


def component(doc: Manifest) -> str:
    return str(doc["metadata"]["labels"].get("app.kubernetes.io/component", ""))


def by_component(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {component(doc): doc for doc in of_kind(manifests, kind)}


def workloads(manifests: list[Manifest]) -> dict[str, Manifest]:
    return {component(doc): doc for doc in of_kind(manifests, *WORKLOAD_KINDS)}


def pod_specs(manifests: list[Manifest]) -> Iterator[tuple[str, Manifest]]:
    """Every pod spec the release creates: workloads and the topics Job."""
    for doc in of_kind(manifests, *WORKLOAD_KINDS, "Job"):
        yield f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"]
