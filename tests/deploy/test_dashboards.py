"""Grafana dashboards: generated from code and committed up to date, covering the spec's dashboard
requirements, with every PromQL expression parsed by promtool."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from deploy_support.tools import REPO, tool

GRAFANA = REPO / "observability/grafana"
ARG = re.compile(r"\{\{args\.([a-z0-9-]+)\}\}")
DASHBOARD_FILES = sorted((GRAFANA / "dashboards").glob("*.json"))
DASHBOARDS = {path.stem: json.loads(path.read_text()) for path in DASHBOARD_FILES}
# Grafana's variables, replaced by sample values so promtool can parse the expressions.
SAMPLE_VARIABLES = {"$__rate_interval": "5m", "$__range": "1h", "$__interval": "1m", "$namespace": "recon",
                    "$service": "gateway", "$canary_hash": "6d4f8b9c7d", "$stable_hash": "5c8d7f6b4a",
                    "$rollout": "recon-platform-matcher"}


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_dashboards", GRAFANA / "build_dashboards.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def panels(uid: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = DASHBOARDS[uid]["panels"]
    return found


def titles(uid: str) -> str:
    return " | ".join(panel["title"].lower() for panel in panels(uid))


def test_committed_json_matches_the_generator() -> None:
    rendered = load_generator().render_all()
    assert set(rendered) == {path.name for path in DASHBOARD_FILES}
    for name, text in rendered.items():
        assert (GRAFANA / "dashboards" / name).read_text() == text, f"{name} is stale: run build_dashboards.py"


@pytest.mark.parametrize(
    ("uid", "required"),
    [
        ("recon-system-health", ["availability", "error rate by endpoint", "requests per second", "p50 / p95 / p99"]),
        ("recon-database", ["query p95", "query duration p50", "pool utilisation", "slow queries", "index"]),
        ("recon-cache", ["hit rate by level", "expirations", "memory", "evictions"]),
        ("recon-security", ["rate-limit", "authentication failures", "authorisation denials", "vulnerability"]),
        ("recon-matcher", ["shards", "pairs", "dead-lettered", "lag", "partitions"]),
    ],
)
def test_spec_dashboard_requirements(uid: str, required: list[str]) -> None:
    for words in required:
        assert words in titles(uid), f"{uid} lacks a panel about {words!r}"


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_layout_is_valid(uid: str) -> None:
    dashboard = DASHBOARDS[uid]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24
        if panel["type"] != "text":
            assert panel["targets"] and all(target["expr"] for target in panel["targets"])
    names = [variable["name"] for variable in dashboard["templating"]["list"]]
    used = set(re.findall(r"\$(\w+)", json.dumps(dashboard["panels"]))) - {"__rate_interval", "__range", "__interval"}
    assert used <= set(names), f"undefined variables: {used - set(names)}"


def test_every_expression_parses(tmp_path: Path) -> None:
    rules = []
    for uid, dashboard in DASHBOARDS.items():
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"]
                for variable in sorted(SAMPLE_VARIABLES, key=len, reverse=True):
                    expr = expr.replace(variable, SAMPLE_VARIABLES[variable])
                assert "$" not in expr, f"{uid}/{panel['title']}: unreplaced variable in {expr}"
                rules.append({"record": f"dashboard:{uid.replace('-', '_')}:panel{panel['id']}_{target['refId']}",
                              "expr": expr})
    path = tmp_path / "dashboard-exprs.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}), encoding="utf-8")
    completed = subprocess.run([str(tool("promtool")), "check", "rules", str(path)],
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert len(rules) > 40


def replace_arg(match: re.Match[str], *, replacements: dict[str, str]) -> str:
    return replacements[match.group(1)]


def test_matcher_dashboard_shows_exactly_the_analysis_queries() -> None:
    """During a rollout a human reads the same PromQL the Argo controller runs."""
    exprs = {target["expr"] for panel in panels("recon-matcher") for target in panel.get("targets", [])}
    templates = yaml.safe_load_all((REPO / "argo-rollouts/cluster-analysis-templates.yaml").read_text())
    variables = {"canary-hash": "$canary_hash", "stable-hash": "$stable_hash", "rollout-name": "$rollout",
                 "namespace": "$namespace", "service-name": "matcher"}
    for template in filter(None, templates):
        replacements: dict[str, str] = {
            arg["name"]: arg["value"] for arg in template["spec"]["args"] if "value" in arg} | variables
        for metric in template["spec"]["metrics"]:
            query = metric["provider"]["prometheus"]["query"]
            expected = ARG.sub(partial(replace_arg, replacements=replacements), query)
            assert expected.strip() in exprs, metric["name"]


def test_thresholds_match_the_alerts() -> None:
    def thresholds(uid: str, title_part: str) -> list[float]:
        panel = next(p for p in panels(uid) if title_part in p["title"].lower())
        return [step["value"] for step in panel["fieldConfig"]["defaults"]["thresholds"]["steps"] if step["value"]]

    assert thresholds("recon-system-health", "error rate by endpoint") == [0.01]
    assert thresholds("recon-system-health", "p95 by service") == [0.25]
    assert thresholds("recon-database", "query p95 by operation") == [0.15, 0.2]
    assert thresholds("recon-database", "pool utilisation") == [0.8, 0.9]
    assert thresholds("recon-cache", "hit rate by service") == [0.6, 0.8]
