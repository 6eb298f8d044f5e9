"""The collector configs: pipelines wired like the collector validates them, and every piece the canary
analysis depends on present (k8sattributes → spanmetrics in ms → promoted labels → Prometheus)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from deploy_support.tools import REPO

K8S = yaml.safe_load((REPO / "observability/otel-collector.yaml").read_text())
COMPOSE = yaml.safe_load((REPO / "observability/otel-collector.compose.yaml").read_text())


@pytest.mark.parametrize("config", [K8S, COMPOSE], ids=["kubernetes", "compose"])
def test_pipelines_reference_defined_components_and_use_them_all(config: dict[str, Any]) -> None:
    used: dict[str, set[str]] = {"receivers": set(), "processors": set(), "exporters": set()}
    connectors = set(config.get("connectors", {}))
    for name, pipeline in config["service"]["pipelines"].items():
        for kind in used:
            for component in pipeline.get(kind, []):
                defined = set(config.get(kind, {})) | (connectors if kind in ("receivers", "exporters") else set())
                assert component in defined, f"pipeline {name}: {kind[:-1]} {component} is not defined"
                used[kind].add(component)
        assert pipeline["processors"][0] == "memory_limiter", "memory_limiter goes first"
        assert pipeline["processors"][-1] == "batch", "batch goes last"
    for kind in used:
        assert set(config.get(kind, {})) <= used[kind], f"unused {kind}: {set(config.get(kind, {})) - used[kind]}"
    for connector in connectors:  # a connector is an exporter of one pipeline and a receiver of another
        assert connector in used["exporters"] and connector in used["receivers"]
    assert set(config["service"]["extensions"]) == set(config["extensions"])


def test_replicaset_names_reach_the_span_metrics_in_kubernetes() -> None:
    traces = K8S["service"]["pipelines"]["traces"]
    processors = traces["processors"]
    assert "k8sattributes" in processors and "spanmetrics" in traces["exporters"]
    assert "k8s.replicaset.name" in K8S["processors"]["k8sattributes"]["extract"]["metadata"]
    kept = K8S["processors"]["transform/promoted_resource_attributes"]["metric_statements"][0]["statements"][0]
    for attribute in ("k8s.replicaset.name", "k8s.namespace.name", "rollouts.pod_template_hash", "service.version"):
        assert f'"{attribute}"' in kept
    exporter = K8S["exporters"]["prometheus"]
    assert exporter["resource_to_telemetry_conversion"]["enabled"] is True
    assert "transform/promoted_resource_attributes" in K8S["service"]["pipelines"]["metrics/spanmetrics"]["processors"]


def test_span_metric_names_are_pinned() -> None:
    """traces_span_metrics_calls_total / _duration_milliseconds_bucket: the analysis queries' names."""
    spanmetrics = K8S["connectors"]["spanmetrics"]
    assert spanmetrics["namespace"] == "traces.span.metrics"
    assert spanmetrics["histogram"]["unit"] == "ms"
    buckets = spanmetrics["histogram"]["explicit"]["buckets"]
    for boundary in ("200ms", "250ms", "20s", "30s"):  # the thresholds compared against
        assert boundary in buckets


def test_compose_config_is_the_kubernetes_one_without_the_kubernetes_api() -> None:
    expected = yaml.safe_load((REPO / "observability/otel-collector.yaml").read_text())
    del expected["processors"]["k8sattributes"]
    expected["service"]["pipelines"]["traces"]["processors"].remove("k8sattributes")
    expected["exporters"]["otlp/jaeger"]["endpoint"] = "jaeger:4317"
    assert expected == COMPOSE
