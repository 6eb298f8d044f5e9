"""The matcher's Argo Rollout as rendered: basic canary 10 → 50 → 100 % with analysis between steps,
args supplied once from valueFrom, and every analysis arg the shared templates need resolvable."""

from __future__ import annotations

import math
import re

import pytest
import yaml
from deploy_support.argo_analysis import merge_args
from deploy_support.chart import Manifest, by_component, workloads
from deploy_support.tools import REPO

ROLLOUT_VALUES = ["default-values.yaml", "all-features.yaml", "dev-minimal.yaml"]
TEMPLATES = {
    doc["metadata"]["name"]: doc
    for doc in yaml.safe_load_all((REPO / "argo-rollouts/cluster-analysis-templates.yaml").read_text())
    if doc
}
SHARD_REQUESTED_PARTITIONS = 12


def rollout(manifests: dict[str, list[Manifest]], values: str) -> Manifest:
    matcher: Manifest = workloads(manifests[values])["matcher"]
    assert matcher["apiVersion"] == "argoproj.io/v1alpha1" and matcher["kind"] == "Rollout"
    return matcher


def canary(manifests: dict[str, list[Manifest]], values: str) -> Manifest:
    strategy: Manifest = rollout(manifests, values)["spec"]["strategy"]["canary"]
    return strategy


def analyses(strategy: Manifest) -> list[Manifest]:
    return [step["analysis"] for step in strategy["steps"] if "analysis" in step] + [strategy["analysis"]]


@pytest.mark.parametrize("values", ROLLOUT_VALUES)
def test_matcher_is_a_basic_canary_that_aborts_when_stuck(manifests: dict[str, list[Manifest]], values: str) -> None:
    spec = rollout(manifests, values)["spec"]
    assert spec["progressDeadlineAbort"] is True and spec["progressDeadlineSeconds"] >= 300
    strategy = spec["strategy"]["canary"]
    assert "trafficRouting" not in strategy, "a queue worker has no traffic to route: weight is the replica ratio"
    assert strategy["canaryMetadata"] == {"labels": {"rollout-role": "canary"}}
    assert strategy["stableMetadata"] == {"labels": {"rollout-role": "stable"}}
    assert strategy["maxUnavailable"] == 0
    # Every consumer, surge included, must be able to hold a partition of shard.requested.
    assert spec["replicas"] + strategy["maxSurge"] <= SHARD_REQUESTED_PARTITIONS


def test_steps_go_10_50_100_with_a_pause_and_an_slo_analysis_before_each_increase(
    manifests: dict[str, list[Manifest]],
) -> None:
    steps = canary(manifests, "default-values.yaml")["steps"]
    shape = [next(iter(step)) for step in steps]
    assert shape == ["setWeight", "pause", "analysis", "setWeight", "pause", "analysis", "setWeight"]
    assert [step["setWeight"] for step in steps if "setWeight" in step] == [10, 50, 100]
    for step in steps:
        if "analysis" in step:
            assert step["analysis"]["templates"] == [{"templateName": "matcher-slo", "clusterScope": True}]


def test_weights_are_whole_canary_pods(manifests: dict[str, list[Manifest]]) -> None:
    """A basic canary rounds weight x replicas up to pods; with 10 replicas 10 % and 50 % are exact."""
    spec = rollout(manifests, "default-values.yaml")["spec"]
    for weight in (step["setWeight"] for step in spec["strategy"]["canary"]["steps"] if "setWeight" in step):
        assert (weight * spec["replicas"]) % 100 == 0, f"setWeight {weight} is not a whole number of pods"
    first_weight = spec["strategy"]["canary"]["steps"][0]["setWeight"]
    assert math.ceil(first_weight * spec["replicas"] / 100) == 1


@pytest.mark.parametrize("values", ROLLOUT_VALUES)
def test_analysis_args_come_from_valuefrom_exactly_once(manifests: dict[str, list[Manifest]], values: str) -> None:
    strategy = canary(manifests, values)
    for analysis in analyses(strategy):
        args = {arg["name"]: arg for arg in analysis["args"]}
        assert len(args) == len(analysis["args"]), "duplicate args shadow valueFrom (hyperswitch-helm #308)"
        assert args["canary-hash"] == {"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}}
        assert args["stable-hash"] == {"name": "stable-hash", "valueFrom": {"podTemplateHashValue": "Stable"}}
        assert args["namespace"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
        assert args["rollout-name"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


@pytest.mark.parametrize("values", ROLLOUT_VALUES)
def test_every_referenced_template_exists_and_its_args_resolve(
    manifests: dict[str, list[Manifest]], values: str
) -> None:
    strategy = canary(manifests, values)
    at_run_time = {"canary-hash": "6d4f8b9c7d", "stable-hash": "5c8d7f6b4a", "namespace": "recon",
                   "rollout-name": rollout(manifests, values)["metadata"]["name"]}
    referenced = set()
    for analysis in analyses(strategy):
        for reference in analysis["templates"]:
            assert reference["clusterScope"] is True
            template = TEMPLATES[reference["templateName"]]
            assert template["kind"] == "ClusterAnalysisTemplate"
            resolved = merge_args(template["spec"]["args"], analysis["args"], at_run_time)
            assert resolved["service-name"] == "matcher"
            if reference["templateName"] == "matcher-slo":
                # A shard budget of its own, with a success band under the failure threshold.
                assert 0 < float(resolved["latency-p95-ok-ms"]) < float(resolved["latency-p95-max-ms"])
            referenced.add(reference["templateName"])
        metric_names = [metric["name"] for ref in analysis["templates"]
                        for metric in TEMPLATES[ref["templateName"]]["spec"]["metrics"]]
        for dry_run in analysis.get("dryRun", []):
            # Argo's GetDryRunMetrics: a rule is an unanchored regex and must match some metric,
            # otherwise the whole AnalysisRun errors.
            assert any(re.search(dry_run["metricName"], name) for name in metric_names), dry_run
    assert referenced == {"matcher-slo", "matcher-guardrails"}


def test_background_guardrail_starts_with_the_first_canary_step(manifests: dict[str, list[Manifest]]) -> None:
    background = canary(manifests, "default-values.yaml")["analysis"]
    assert background["templates"] == [{"templateName": "matcher-guardrails", "clusterScope": True}]
    assert background["startingStep"] == 1


def test_the_canary_pods_are_what_the_analysis_selects(manifests: dict[str, list[Manifest]]) -> None:
    """Span metrics are split by ReplicaSet (<rollout>-<hash>, the analysis's rollout-name arg) and app
    metrics by the pod-template-hash label the PodMonitor copies; both must exist on matcher pods."""
    docs = manifests["all-features.yaml"]
    (pod_monitor,) = [doc for doc in docs if doc["kind"] == "PodMonitor"]
    assert "rollouts-pod-template-hash" in pod_monitor["spec"]["podTargetLabels"]
    matcher_labels = rollout(manifests, "all-features.yaml")["spec"]["template"]["metadata"]["labels"]
    assert pod_monitor["spec"]["selector"]["matchLabels"].items() <= matcher_labels.items()


def test_dry_run_lists_go_to_their_own_analyses(manifests: dict[str, list[Manifest]]) -> None:
    strategy = canary(manifests, "all-features.yaml")
    for step in strategy["steps"]:
        if "analysis" in step:
            assert step["analysis"]["dryRun"] == [{"metricName": "latency-vs-stable"}]
    assert strategy["analysis"]["dryRun"] == [{"metricName": "consumer-lag-.*"}]
    for analysis in analyses(canary(manifests, "default-values.yaml")):
        assert "dryRun" not in analysis


def test_without_argo_the_matcher_is_a_plain_deployment_without_an_hpa(manifests: dict[str, list[Manifest]]) -> None:
    docs = manifests["matcher-deployment.yaml"]
    matcher = workloads(docs)["matcher"]
    assert matcher["kind"] == "Deployment" and matcher["spec"]["replicas"] == 6
    assert "matcher" not in by_component(docs, "HorizontalPodAutoscaler")
    assert not [doc for doc in docs if doc["apiVersion"].startswith("argoproj.io")]
