"""Values the chart must refuse, with a message that says why (values.schema.json or a template `fail`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support.chart import helm_template


def refused(*extra: str) -> str:
    completed = helm_template(*extra, check=False)
    assert completed.returncode != 0, "helm rendered values it should have refused"
    return str(completed.stderr)


def values_file(tmp_path: Path, values: dict[str, Any]) -> str:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("tag", ["latest", "main"])
def test_mutable_image_tags_are_refused(tag: str) -> None:
    assert "/image/tag" in refused("--set", f"image.tag={tag}")


def test_hardening_cannot_be_relaxed() -> None:
    assert "readOnlyRootFilesystem" in refused("--set", "default.securityContext.readOnlyRootFilesystem=false")
    assert "runAsNonRoot" in refused("--set", "default.podSecurityContext.runAsNonRoot=false")


def test_credentials_in_an_inline_redis_url_are_refused() -> None:
    assert "/redis/url" in refused("--set", "redis.url=redis://:hunter2@redis:6379/0")


def test_a_misspelt_component_setting_is_refused() -> None:
    assert "replcas" in refused("--set", "components.gateway.replcas=3")


def test_an_hpa_on_the_rollout_is_refused() -> None:
    message = refused("--set", "components.matcher.autoscaling.enabled=true",
                      "--set", "components.matcher.autoscaling.minReplicas=2",
                      "--set", "components.matcher.autoscaling.maxReplicas=10",
                      "--set", "components.matcher.autoscaling.targetCPUUtilizationPercentage=70")
    assert "canary/stable ratio" in message


def test_more_matcher_consumers_than_partitions_are_refused() -> None:
    assert "exceed the 12 partitions" in refused("--set", "components.matcher.replicas=12")


def test_a_drain_longer_than_the_grace_period_is_refused() -> None:
    assert "terminationGracePeriodSeconds" in refused("--set", "default.shutdownTimeoutSeconds=28")


def test_per_step_analysis_args_are_refused(tmp_path: Path) -> None:
    """Args belong in rollout.analysisArgs only: a per-step list would shadow the valueFrom ones."""
    steps = [{"setWeight": 10}, {"analysis": {
        "templates": [{"templateName": "matcher-slo", "clusterScope": True}],
        "args": [{"name": "canary-hash", "value": "abc"}]}}]
    path = values_file(tmp_path, {"components": {"matcher": {"rollout": {
        "progressDeadlineSeconds": 900, "maxSurge": 1, "maxUnavailable": 0,
        "analysisArgs": [{"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}}],
        "steps": steps}}}})
    assert "args" in refused("-f", path)
    # Even with the schema skipped, the template refuses them.
    assert "declare args once" in refused("-f", path, "--skip-schema-validation")
