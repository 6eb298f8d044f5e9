"""Static rules for argo-rollouts/cluster-analysis-templates.yaml, from what Argo users learned the
hard way (argo-rollouts/README.md): guarded conditions, explicit limits, canary-only queries, windows
that match the scrape cadence, and queries that parse."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support.argo_analysis import evaluate_measurement, merge_args, substitute_args
from deploy_support.argo_expr import eval_condition
from deploy_support.tools import REPO, tool

TEMPLATE_FILE = REPO / "argo-rollouts/cluster-analysis-templates.yaml"
TEMPLATES = {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all(TEMPLATE_FILE.read_text()) if doc}
METRICS = [(name, metric) for name, template in TEMPLATES.items() for metric in template["spec"]["metrics"]]
IDS = [f"{name}/{metric['name']}" for name, metric in METRICS]
SAMPLE_ARGS = {"canary-hash": "6d4f8b9c7d", "stable-hash": "5c8d7f6b4a", "rollout-name": "recon-platform-matcher",
               "namespace": "recon", "service-name": "matcher"}


def resolved(template: str) -> dict[str, str]:
    declared = TEMPLATES[template]["spec"]["args"]
    incoming = [{"name": name, "value": value} for name, value in SAMPLE_ARGS.items()]
    args: dict[str, str] = merge_args(declared, incoming, {})
    return args


def minutes(duration: str) -> float:
    value, unit = re.fullmatch(r"(\d+)([smh])", duration).groups()  # type: ignore[union-attr]
    return int(value) * {"s": 1 / 60, "m": 1, "h": 60}[unit]


def test_both_templates_exist_and_are_cluster_scoped() -> None:
    assert set(TEMPLATES) == {"matcher-slo", "matcher-guardrails"}
    assert all(template["kind"] == "ClusterAnalysisTemplate" for template in TEMPLATES.values())


@pytest.mark.parametrize(("template", "metric"), METRICS, ids=IDS)
def test_limits_are_explicit_and_windows_fit_the_scrape_cadence(template: str, metric: dict[str, Any]) -> None:
    for key in ("failureLimit", "consecutiveErrorLimit", "initialDelay", "interval"):
        assert key in metric, f"{key} must be explicit (defaults surprised Argo users: #4479, #4792)"
    assert minutes(metric["interval"]) >= 1
    query = metric["provider"]["prometheus"]["query"]
    windows = re.findall(r"\[(\d+[smh])(?::\d+[smh])?\]", query)
    assert all(minutes(window) >= 5 for window in windows), windows
    assert metric["provider"]["prometheus"]["timeout"] > 0


@pytest.mark.parametrize(("template", "metric"), METRICS, ids=IDS)
def test_every_condition_is_guarded_against_no_data(template: str, metric: dict[str, Any]) -> None:
    args = resolved(template)
    for key in ("successCondition", "failureCondition"):
        if key not in metric:
            continue
        condition = substitute_args(metric[key], args)
        if "result[0]" in condition:
            assert condition.startswith("len(result) > 0 &&"), condition
        # Neither no data nor NaN may error the measurement (errors abort after consecutiveErrorLimit).
        for result in ([], [float("nan")]):
            assert isinstance(eval_condition(condition, result), bool)


@pytest.mark.parametrize("metric", TEMPLATES["matcher-slo"]["spec"]["metrics"], ids=lambda m: m["name"])
def test_slo_metrics_select_canary_pods_and_have_a_band(metric: dict[str, Any]) -> None:
    query = metric["provider"]["prometheus"]["query"]
    assert "{{args.canary-hash}}" in query
    assert "successCondition" in metric and "failureCondition" in metric
    assert metric["count"] >= 3, "enough samples that one flake (failureLimit) cannot decide alone"
    args = resolved("matcher-slo")
    success = substitute_args(metric["successCondition"], args)
    failure = substitute_args(metric["failureCondition"], args)
    assert evaluate_measurement([], success, failure).value == "Inconclusive"


def test_spec_thresholds_are_the_failure_conditions() -> None:
    """Spec P2.4: automatic rollback on error rate > 1 % or latency > 250 ms."""
    args = resolved("matcher-slo")
    metrics = {metric["name"]: metric for metric in TEMPLATES["matcher-slo"]["spec"]["metrics"]}

    def phase(name: str, value: float) -> str:
        metric = metrics[name]
        return str(evaluate_measurement([value], substitute_args(metric["successCondition"], args),
                                        substitute_args(metric["failureCondition"], args)).value)

    assert phase("success-rate", 0.989) == "Failed" and phase("success-rate", 0.99) != "Failed"
    assert phase("latency-p95", 250.5) == "Failed" and phase("latency-p95", 250) != "Failed"
    assert phase("success-rate", 1.0) == phase("latency-p95", 120) == "Successful"
    assert phase("dead-letters", 1) == "Failed" and phase("dead-letters", 0) == "Successful"


def test_relative_latency_compares_canary_with_stable() -> None:
    metric = next(m for m in TEMPLATES["matcher-slo"]["spec"]["metrics"] if m["name"] == "latency-vs-stable")
    query = metric["provider"]["prometheus"]["query"]
    assert "{{args.canary-hash}}" in query and "{{args.stable-hash}}" in query


def test_dead_letters_are_read_per_canary_pod_template_hash() -> None:
    metric = next(m for m in TEMPLATES["matcher-slo"]["spec"]["metrics"] if m["name"] == "dead-letters")
    assert 'rollouts_pod_template_hash="{{args.canary-hash}}"' in metric["provider"]["prometheus"]["query"]
    assert metric["failureLimit"] == 0, "a single dead letter from the canary aborts"


def test_every_query_parses_as_promql(tmp_path: Path) -> None:
    """promtool parses each query, args substituted, as a recording rule expression."""
    rules = [{"record": f"analysis:{template.replace('-', '_')}:{metric['name'].replace('-', '_')}",
              "expr": substitute_args(metric["provider"]["prometheus"]["query"], resolved(template))}
             for template, metric in METRICS]
    path = tmp_path / "analysis-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "analysis", "rules": rules}]}), encoding="utf-8")
    completed = subprocess.run([str(tool("promtool")), "check", "rules", str(path)],
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert f"{len(rules)} rules found" in completed.stdout
