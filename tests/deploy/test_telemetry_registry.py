"""telemetry/registry.yaml is the contract between the code that emits telemetry and everything that
reads it: rules, dashboards and the canary analysis may use only registered metrics and labels, and
the registered metrics of platform_common are exactly what the code defines."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
import yaml
from deploy_support.argo_analysis import substitute_args
from deploy_support.promql import metric_names, selectors
from deploy_support.tools import REPO
from prometheus_client.metrics import MetricWrapperBase

REGISTRY = yaml.safe_load((REPO / "telemetry/registry.yaml").read_text())
METRICS = {metric["name"]: metric for metric in REGISTRY["metrics"]}
TARGET_LABELS = set(REGISTRY["target_labels"])
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "1h", "$namespace": "x", "$service": "x",
                     "$canary_hash": "x", "$stable_hash": "x", "$rollout": "x"}


def rule_files() -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text()) for path in sorted((REPO / "observability/prometheus/rules").glob("*.yml"))]


RECORDED = {rule["record"] for rules in rule_files() for group in rules["groups"] for rule in group["rules"]
            if "record" in rule}


def consumers() -> list[tuple[str, str]]:
    """(where, PromQL) for every expression a rule, dashboard or analysis template evaluates."""
    found = [(f"rule {rule.get('alert') or rule.get('record')}", rule["expr"])
             for rules in rule_files() for group in rules["groups"] for rule in group["rules"]]
    for path in sorted((REPO / "observability/grafana/dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"]
                for variable in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
                    expr = expr.replace(variable, GRAFANA_VARIABLES[variable])
                found.append((f"{path.stem}/{panel['title']}", expr))
    for template in yaml.safe_load_all((REPO / "argo-rollouts/cluster-analysis-templates.yaml").read_text()):
        args = {arg["name"]: arg.get("value", "x") for arg in template["spec"]["args"]}
        for metric in template["spec"]["metrics"]:
            query = substitute_args(metric["provider"]["prometheus"]["query"], args)
            found.append((f"{template['metadata']['name']}/{metric['name']}", query))
    return found


def registered(name: str) -> dict[str, Any] | None:
    candidates = [name] + [name.removesuffix(suffix) for suffix in HISTOGRAM_SUFFIXES if name.endswith(suffix)]
    for candidate in candidates:
        metric: dict[str, Any] | None = METRICS.get(candidate)
        if metric is not None and (candidate == name or metric["type"] == "histogram"):
            return metric
    return None


@pytest.mark.parametrize(("where", "expr"), consumers(), ids=lambda value: value[:60])
def test_consumers_use_only_registered_metrics_and_labels(where: str, expr: str) -> None:
    for name in metric_names(expr):
        assert registered(name) or name in RECORDED, f"{where}: {name} is not in telemetry/registry.yaml"
    for selector in selectors(expr):
        metric = registered(selector.metric)
        if metric is None:
            continue  # recording rules carry the labels they aggregate by
        unknown = selector.labels - set(metric["labels"]) - TARGET_LABELS - {"le"}
        assert not unknown, f"{where}: {selector.metric} has no label(s) {sorted(unknown)}"


def code_collectors(module_name: str) -> dict[str, MetricWrapperBase]:
    module = importlib.import_module(module_name)
    collectors = [value for value in vars(module).values() if isinstance(value, MetricWrapperBase)]
    # prometheus-client stores counters without their _total suffix.
    return {collector._name + ("_total" if collector._type == "counter" else ""): collector  # noqa: SLF001
            for collector in collectors}


@pytest.mark.parametrize("module_name", sorted({m["source"] for m in METRICS.values() if "." in m["source"]}))
def test_registry_matches_the_code_exactly(module_name: str) -> None:
    in_code = code_collectors(module_name)
    in_registry = {name: metric for name, metric in METRICS.items() if metric["source"] == module_name}
    assert set(in_code) == set(in_registry), "register every metric the module defines, and only those"
    for name, metric in in_registry.items():
        collector = in_code[name]
        assert collector._type == metric["type"], name  # noqa: SLF001
        assert list(collector._labelnames) == metric["labels"], name  # noqa: SLF001


def test_span_metric_labels_used_by_the_analysis_are_produced_by_the_collector() -> None:
    """Prometheus labels of span metrics = spanmetrics dimensions + resource attributes the collector
    keeps, with dots turned into underscores."""
    config = yaml.safe_load((REPO / "observability/otel-collector.yaml").read_text())
    kept = config["processors"]["transform/promoted_resource_attributes"]["metric_statements"][0]["statements"][0]
    resource = {name.replace(".", "_") for name in json.loads(kept[kept.index("["):kept.rindex("]") + 1])}
    dimensions = {d["name"].replace(".", "_") for d in config["connectors"]["spanmetrics"]["dimensions"]}
    produced = resource | dimensions | {"service_name", "span_name", "span_kind", "status_code"}
    for name in ("traces_span_metrics_calls_total", "traces_span_metrics_duration_milliseconds"):
        assert set(METRICS[name]["labels"]) <= produced, set(METRICS[name]["labels"]) - produced


def test_the_reader_finds_metrics_and_matchers_it_must_check() -> None:
    """Guards the checker itself: a misspelt metric or label must be visible to it."""
    expr = ('sum by (service, le) (rate(recon_cache_hitz_total{service="x", levle=~"l1"}[5m])) '
            'or on (namespace) vector(0) / ignoring(state) max_over_time(up[1h] offset 10m)')
    assert metric_names(expr) == {"recon_cache_hitz_total", "up"}
    (selector,) = selectors(expr)
    assert selector.metric == "recon_cache_hitz_total" and selector.labels == {"service", "levle"}
