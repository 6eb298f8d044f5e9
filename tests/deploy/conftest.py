"""Deploy-as-code tests: chart, compose, Dockerfiles, Prometheus rules, dashboards, analysis templates.
They call real tools (helm, kubeconform, promtool, prometheus) found in <repo>/.local/bin or on PATH,
and fail (never skip) when one is missing: CI installs them first with scripts/k8s/install-tools.sh."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Helpers live in deploy_support/ next to this file; importlib mode does not put test dirs on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from deploy_support.chart import CI_VALUES, Manifest, helm_template, parse  # noqa: E402


@pytest.fixture(scope="session")
def rendered() -> dict[str, str]:
    """`helm template` output per ci values file name (rendered once per session)."""
    return {values.name: helm_template("-f", str(values)).stdout for values in CI_VALUES}


@pytest.fixture(scope="session")
def manifests(rendered: dict[str, str]) -> dict[str, list[Manifest]]:
    return {name: parse(text) for name, text in rendered.items()}
