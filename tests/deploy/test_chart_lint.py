"""`helm lint --strict` for every values file of the CI matrix (Online Boutique's helm-chart-ci)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from deploy_support.chart import CHART, CI_VALUES
from deploy_support.tools import KUBE_VERSION, tool


def test_ci_matrix_is_not_empty() -> None:
    assert {path.name for path in CI_VALUES} >= {"default-values.yaml", "all-features.yaml"}


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda path: path.name)
def test_helm_lint_strict(values: Path) -> None:
    completed = subprocess.run(
        [str(tool("helm")), "lint", "--strict", str(CHART), "-f", str(values), "--kube-version", KUBE_VERSION],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "0 chart(s) failed" in completed.stdout
