"""Every rendered manifest validates against the Kubernetes 1.30 schemas and the Argo Rollouts /
Prometheus Operator CRD schemas, strictly (unknown fields are errors), offline.

The analysis templates and saved AnalysisRuns in argo-rollouts/ are validated the same way."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from deploy_support.chart import CI_VALUES
from deploy_support.tools import KUBE_VERSION, REPO, schema_dir, tool

ARGO_DIR = REPO / "argo-rollouts"
BROKEN = "broken-on-purpose.yaml"


def kubeconform(*paths: Path) -> dict[str, list[dict[str, Any]]]:
    """Run kubeconform once over all files (schemas compile once) and group results by file."""
    kubernetes, crds = schema_dir("kubernetes"), schema_dir("crds")
    completed = subprocess.run(
        [str(tool("kubeconform")), "-strict", "-summary", "-output", "json", "-verbose",
         "-kubernetes-version", KUBE_VERSION,
         "-schema-location",
         f"{kubernetes}/{{{{.NormalizedKubernetesVersion}}}}-local{{{{.StrictSuffix}}}}/"
         "{{.ResourceKind}}{{.KindSuffix}}.json",
         "-schema-location", f"{crds}/{{{{.Group}}}}/{{{{.ResourceKind}}}}_{{{{.ResourceAPIVersion}}}}.json",
         *map(str, paths)],
        capture_output=True, text=True, timeout=300,
    )
    report = json.loads(completed.stdout)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for resource in report["resources"]:
        grouped.setdefault(Path(resource["filename"]).name, []).append(resource)
    return grouped


@pytest.fixture(scope="module")
def validation(rendered: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    directory = tmp_path_factory.mktemp("rendered")
    paths = []
    for name, text in rendered.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    # A deliberately broken render guards the offline schema setup itself (see the last test).
    broken = rendered["default-values.yaml"].replace("progressDeadlineAbort: true", "progressDeadlineAbrt: true", 1)
    broken = broken.replace("automountServiceAccountToken: false", "automountServiceAccountTokn: false", 1)
    (directory / BROKEN).write_text(broken, encoding="utf-8")
    argo_files = sorted(ARGO_DIR.glob("*.yaml")) + sorted((ARGO_DIR / "examples").glob("*.yaml"))
    return kubeconform(*paths, directory / BROKEN, *argo_files)


def assert_all_valid(results: list[dict[str, Any]]) -> None:
    problems = [f"{r['kind']}/{r['name']}: {r['status']} {r.get('msg', '')}" for r in results
                if r["status"] != "statusValid"]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("values", [path.name for path in CI_VALUES])
def test_rendered_chart_is_schema_valid(validation: dict[str, list[dict[str, Any]]], values: str) -> None:
    results = validation[values]
    assert results, f"kubeconform saw no resources in the {values} render"
    assert_all_valid(results)


def test_crd_kinds_were_validated_not_skipped(validation: dict[str, list[dict[str, Any]]]) -> None:
    kinds = {r["kind"] for r in validation["all-features.yaml"] if r["status"] == "statusValid"}
    assert {"Rollout", "PodMonitor", "PrometheusRule", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds


def test_analysis_templates_and_saved_runs_are_schema_valid(validation: dict[str, list[dict[str, Any]]]) -> None:
    argo_names = {path.name for path in ARGO_DIR.rglob("*.yaml")}
    argo_results = [result for name in argo_names for result in validation.get(name, [])]
    kinds = {r["kind"] for r in argo_results}
    assert {"ClusterAnalysisTemplate", "AnalysisRun"} <= kinds
    assert_all_valid(argo_results)


def test_strict_validation_rejects_an_unknown_field(validation: dict[str, list[dict[str, Any]]]) -> None:
    """A misspelt field must fail, in core and CRD kinds alike, and nothing else in that render."""
    invalid = {r["kind"] for r in validation[BROKEN] if r["status"] == "statusInvalid"}
    assert invalid == {"Rollout", "ServiceAccount"}
