"""Prometheus rules: they load (`promtool check rules`), their unit tests pass (`promtool test rules`),
every alert has a firing and a quiet test, and the spec's alert table is implemented as written."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support.tools import REPO, tool

RULES_DIR = REPO / "observability/prometheus/rules"
TESTS_DIR = REPO / "observability/prometheus/tests"
RULE_FILES = sorted(RULES_DIR.glob("*.yml"))
TEST_FILES = sorted(TESTS_DIR.glob("*.test.yml"))


def rules() -> list[dict[str, Any]]:
    return [rule for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"]]


ALERTS = {rule["alert"]: rule for rule in rules() if "alert" in rule}


def promtool(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(tool("promtool")), *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_rules_load() -> None:
    completed = promtool("check", "rules", *map(str, RULE_FILES))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.count("SUCCESS") == len(RULE_FILES)


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda path: path.name)
def test_rule_unit_tests_pass(test_file: Path) -> None:
    completed = promtool("test", "rules", test_file.name, cwd=str(TESTS_DIR))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "SUCCESS" in completed.stdout


def alert_checks() -> list[tuple[str, bool]]:
    """(alertname, fires) for every alert_rule_test in every test file."""
    checks = []
    for path in TEST_FILES:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for check in test.get("alert_rule_test", []):
                checks.append((check["alertname"], bool(check.get("exp_alerts"))))
    return checks


@pytest.mark.parametrize("alert", sorted(ALERTS))
def test_every_alert_is_tested_firing_and_quiet(alert: str) -> None:
    checks = alert_checks()
    assert (alert, True) in checks, f"no test where {alert} fires"
    assert (alert, False) in checks, f"no test where {alert} stays quiet"


@pytest.mark.parametrize("alert", sorted(ALERTS))
def test_every_alert_says_how_bad_and_what_to_do(alert: str) -> None:
    rule = ALERTS[alert]
    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    assert {"summary", "description", "runbook_url"} <= set(rule["annotations"])
    anchor = rule["annotations"]["runbook_url"].split("#", 1)[1]
    headings = re.findall(r"^#+ (.+)$", (REPO / "docs/deploy.md").read_text(), re.MULTILINE)
    anchors = {re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-") for heading in headings}
    assert anchor in anchors, f"docs/deploy.md has no section #{anchor}"


@pytest.mark.parametrize(
    ("alert", "threshold", "duration", "severity"),
    [
        ("HighErrorRate", "> 0.01", "5m", "critical"),
        ("DbLatencyHigh", "> 0.2", "10m", "warning"),
        ("CacheHitRateLow", "< 0.6", "30m", "warning"),
        ("DbPoolExhaustion", "> 0.9", "2m", "critical"),
        ("ApiLatencyP95High", "> 0.25", "10m", "warning"),
    ],
)
def test_spec_alert_table(alert: str, threshold: str, duration: str, severity: str) -> None:
    rule = ALERTS[alert]
    assert threshold in rule["expr"]
    assert rule["for"] == duration and rule["labels"]["severity"] == severity


def test_slo_burn_rate_alerts_cover_fast_and_slow_windows() -> None:
    fast, slow = ALERTS["ApiErrorBudgetBurnFast"]["expr"], ALERTS["ApiErrorBudgetBurnSlow"]["expr"]
    assert all(window in fast for window in ("rate1h", "rate5m", "rate6h", "rate30m"))
    assert all(window in slow for window in ("rate1d", "rate2h", "rate3d", "rate6h"))
    assert "14.4 * 0.001" in fast and "(1 * 0.001)" in slow
