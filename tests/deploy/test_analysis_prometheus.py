"""The canary analysis, end to end against a real Prometheus: every query of
argo-rollouts/cluster-analysis-templates.yaml runs over synthetic canary/stable telemetry, its result
goes through the template's own success/failure conditions, and the measurements through Argo's
run-assessment rules with the template's own limits.

Only the time scale changes: each duration in the queries shrinks 60x (1 min becomes 1 s, [5m] becomes
[5s]) so a minute-long analysis runs in seconds against a 1 s scrape interval; the PromQL is otherwise
exactly what the Argo controller sends.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support.argo_analysis import (
    MetricLimits,
    Phase,
    assess_metric,
    evaluate_measurement,
    merge_args,
    substitute_args,
)
from deploy_support.prometheus_server import PrometheusServer
from deploy_support.synthetic_metrics import NAMESPACE, ROLLOUT, Canary, Lag, SyntheticExporter
from deploy_support.tools import REPO

TEMPLATES = {doc["metadata"]["name"]: doc for doc in
             yaml.safe_load_all((REPO / "argo-rollouts/cluster-analysis-templates.yaml").read_text()) if doc}
# The chart's args, with the latency budget put back to the spec's API numbers (200/250 ms) that the
# synthetic canaries below are built around; the chart itself passes a shard budget in seconds.
ROLLOUT_ARGS = [*yaml.safe_load((REPO / "charts/platform/values.yaml").read_text())[
    "components"]["matcher"]["rollout"]["analysisArgs"],
    {"name": "latency-p95-ok-ms", "value": "200"}, {"name": "latency-p95-max-ms", "value": "250"}]
TIME_SCALE = 60
SLO_ROUNDS = 5  # matcher-slo's count
GUARDRAIL_ROUNDS = 3  # background analysis: runs until the rollout ends, then terminates

S, F, UNSURE = Phase.SUCCESSFUL, Phase.FAILED, Phase.INCONCLUSIVE
STABLE = Canary("7c6b5a4d3e", dead_letters=0)
CANARIES = {
    # all calls in (25, 50] ms like stable: p95 = 25 + 25 * 0.95 = 48.75 ms, ratio 1.0
    "healthy": Canary("6f7d9c8b5a", dead_letters=0),
    # 5 % errors, p95 = 500 + 500 * 0.95 = 975 ms (20x stable), 3 dead letters
    "failing": Canary("8b5c4d7f9e", error_share=0.05, latency_shares={1000: 1.0}, dead_letters=3),
    # 0.7 % errors (between 99 % and 99.5 %); p95 = 50 + 50 * 0.02 / 0.07 = 64.3 ms, 1.32x stable
    "uncertain": Canary("4c9e7a6d2b", error_share=0.007, latency_shares={50: 0.93, 100: 0.07}),
    # no errors, p95 = 200 + 50 * 0.95 = 247.5 ms: inside the 250 ms budget, not the 200 ms comfort zone
    "slow": Canary("2d8f6b4c9a", latency_shares={250: 1.0}),
    # pods up, series exported, nothing processed: every ratio is 0/0
    "idle": Canary("9a7c5e3b1d", idle=True, dead_letters=0),
}
NO_DATA_HASH = "5e3c1a9f7b"  # a canary that exported nothing at all

# scenario -> metric -> (expected measurement value, expected measurement phase); None means "no data"
EXPECTED_MEASUREMENTS: dict[str, dict[str, tuple[float | None, Phase]]] = {
    "healthy": {"success-rate": (1.0, S), "latency-p95": (48.75, S), "latency-vs-stable": (1.0, S),
                "dead-letters": (0, S)},
    "failing": {"success-rate": (0.95, F), "latency-p95": (975, F), "latency-vs-stable": (20.0, F),
                "dead-letters": (3, F)},
    "uncertain": {"success-rate": (0.993, UNSURE), "latency-p95": (64.2857, S), "latency-vs-stable": (1.3187, UNSURE),
                  "dead-letters": (0, S)},
    "slow": {"success-rate": (1.0, S), "latency-p95": (247.5, UNSURE), "latency-vs-stable": (5.0769, F),
             "dead-letters": (0, S)},
    "idle": {"success-rate": (float("nan"), UNSURE), "latency-p95": (float("nan"), UNSURE),
             "latency-vs-stable": (float("nan"), UNSURE), "dead-letters": (0, S)},
    "no-data": {"success-rate": (None, UNSURE), "latency-p95": (None, UNSURE), "latency-vs-stable": (None, UNSURE),
                "dead-letters": (0, S)},
}
# What the AnalysisRun ends as: the rollout promotes, aborts, or pauses for a human.
EXPECTED_RUNS = {"healthy": S, "failing": F, "uncertain": UNSURE, "slow": F, "idle": UNSURE, "no-data": UNSURE}

LAGS = {
    "lagging": Lag("lagging", start=2000, slope=50),  # group lag grows 100 msg/s: stuck
    "steady": Lag("steady", start=5000, slope=0),
    "draining": Lag("draining", start=9000, slope=-100),
    "small": Lag("small", start=10, slope=1),  # growing, but under the 1000-message floor
}
EXPECTED_GUARDRAILS = {"lagging": F, "steady": S, "draining": S, "small": S, "missing": S}

DURATION = re.compile(r"(\d+)([smhd])")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def scaled(promql: str) -> str:
    """Shrink every range/subquery duration by TIME_SCALE, e.g. [5m] -> [5000ms], [15m:1m] -> [15000ms:1000ms]."""
    def shrink(match: re.Match[str]) -> str:
        milliseconds = int(match.group(1)) * SECONDS[match.group(2)] * 1000 // TIME_SCALE
        return f"{milliseconds}ms"

    return re.sub(r"\[[^\]]+\]", lambda window: DURATION.sub(shrink, window.group(0)), promql)


def metric_spec(template: str, name: str) -> dict[str, Any]:
    return next(metric for metric in TEMPLATES[template]["spec"]["metrics"] if metric["name"] == name)


def resolved_args(template: str, canary_hash: str, namespace: str = NAMESPACE) -> dict[str, str]:
    """The args the controller would pass: the chart's analysisArgs over the template's declarations."""
    at_run_time = {"canary-hash": canary_hash, "stable-hash": STABLE.pod_template_hash,
                   "rollout-name": ROLLOUT, "namespace": namespace}
    args: dict[str, str] = merge_args(TEMPLATES[template]["spec"]["args"], ROLLOUT_ARGS, at_run_time)
    return args


def measure(prometheus: PrometheusServer, template: str, metric_name: str, args: dict[str, str]) -> tuple[Any, Phase]:
    metric = metric_spec(template, metric_name)
    query = scaled(substitute_args(metric["provider"]["prometheus"]["query"], args))
    result = prometheus.query(query)
    success = substitute_args(metric.get("successCondition", ""), args) or None
    failure = substitute_args(metric.get("failureCondition", ""), args) or None
    return result, evaluate_measurement(result, success, failure)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    with SyntheticExporter([STABLE, *CANARIES.values()], list(LAGS.values())) as exporter:
        server = PrometheusServer(Path(tmp_path_factory.mktemp("prometheus")), exporter.address)
        server.start()
        try:
            # The longest scaled window is the guardrail's [15m:1m] over [5m:30s]: 20 s of history.
            server.wait_for_history(seconds=22, timeout_s=90)
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module")
def slo_rounds(prometheus: PrometheusServer) -> dict[str, dict[str, list[tuple[Any, Phase]]]]:
    """SLO_ROUNDS measurements per scenario and metric, one scaled interval (1 s) apart."""
    hashes = {name: canary.pod_template_hash for name, canary in CANARIES.items()} | {"no-data": NO_DATA_HASH}
    rounds: dict[str, dict[str, list[tuple[Any, Phase]]]] = {name: {} for name in hashes}
    for index in range(SLO_ROUNDS):
        if index:
            time.sleep(1)
        for scenario, canary_hash in hashes.items():
            args = resolved_args("matcher-slo", canary_hash)
            for metric in TEMPLATES["matcher-slo"]["spec"]["metrics"]:
                rounds[scenario].setdefault(metric["name"], []).append(
                    measure(prometheus, "matcher-slo", metric["name"], args))
    return rounds


@pytest.mark.parametrize("scenario", list(EXPECTED_MEASUREMENTS))
def test_each_measurement_lands_where_designed(slo_rounds: dict[str, Any], scenario: str) -> None:
    for metric, (expected_value, expected_phase) in EXPECTED_MEASUREMENTS[scenario].items():
        for result, phase in slo_rounds[scenario][metric]:
            assert phase is expected_phase, f"{scenario}/{metric}: {result} -> {phase}"
            if expected_value is None:
                assert result == [], f"{scenario}/{metric} should have no data"
            elif expected_value != expected_value:  # NaN
                assert len(result) == 1 and result[0] != result[0], f"{scenario}/{metric}: {result}"
            else:
                assert result == [pytest.approx(expected_value, rel=2e-3)], f"{scenario}/{metric}"


@pytest.mark.parametrize("scenario", list(EXPECTED_RUNS))
def test_the_analysis_run_promotes_aborts_or_pauses(slo_rounds: dict[str, Any], scenario: str) -> None:
    metric_phases = {
        metric["name"]: assess_metric([phase for _, phase in slo_rounds[scenario][metric["name"]]],
                                      MetricLimits.of(metric))
        for metric in TEMPLATES["matcher-slo"]["spec"]["metrics"]
    }
    # Argo: a Failed/Error/Inconclusive metric terminates the run (others stop as Successful) and the
    # run takes the worst metric phase (Successful < Inconclusive < Error < Failed).
    order = [S, Phase.RUNNING, Phase.PENDING, UNSURE, Phase.ERROR, F]
    run = max(metric_phases.values(), key=order.index)
    assert run is EXPECTED_RUNS[scenario], metric_phases


@pytest.fixture(scope="module")
def guardrail_rounds(prometheus: PrometheusServer) -> dict[str, list[tuple[Any, Phase]]]:
    rounds: dict[str, list[tuple[Any, Phase]]] = {namespace: [] for namespace in EXPECTED_GUARDRAILS}
    for index in range(GUARDRAIL_ROUNDS):
        if index:
            time.sleep(1)
        for namespace in rounds:
            args = resolved_args("matcher-guardrails", "unused", namespace=namespace)
            rounds[namespace].append(measure(prometheus, "matcher-guardrails", "consumer-lag-growth", args))
    return rounds


@pytest.mark.parametrize("namespace", list(EXPECTED_GUARDRAILS))
def test_lag_guardrail_fails_only_a_group_that_keeps_falling_behind(
    guardrail_rounds: dict[str, list[tuple[Any, Phase]]], namespace: str
) -> None:
    metric = metric_spec("matcher-guardrails", "consumer-lag-growth")
    phases = [phase for _, phase in guardrail_rounds[namespace]]
    # Background analysis has no count: it runs until the rollout completes and terminates it.
    run = assess_metric(phases, MetricLimits.of(metric), terminating=True)
    assert run is EXPECTED_GUARDRAILS[namespace], guardrail_rounds[namespace]
    if namespace == "lagging":
        # min slope of the group's total lag: 2 partitions x 50 msg/s
        assert guardrail_rounds[namespace][-1][0] == [pytest.approx(100, rel=0.05)]
