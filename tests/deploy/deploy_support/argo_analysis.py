"""The parts of Argo Rollouts' analysis controller our tests need, ported from v1.9.1 so that a
template's numbers are checked against the controller's real rules, not against our reading of docs:

- args: MergeArgs/ResolveArgs (utils/analysis/helpers.go) and `{{args.x}}` substitution
  (utils/template/template.go: an unresolved placeholder is an error);
- one measurement: EvaluateResult (utils/evaluate/evaluate.go);
- one metric over many measurements: assessMetricStatus (analysis/analysis.go), without
  consecutiveSuccessLimit, which our templates do not use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from deploy_support.argo_expr import ExprError, eval_condition


class Phase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"


DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4
PLACEHOLDER = re.compile(r"\{\{([^{}]*)\}\}")


class UnresolvedArgError(Exception):
    pass


def merge_args(template_args: Iterable[Mapping[str, Any]], incoming: Iterable[Mapping[str, Any]],
               resolved_value_from: Mapping[str, str]) -> dict[str, str]:
    """Template args overridden by the Rollout's; incoming args the template does not declare are
    ignored (as Argo does). `resolved_value_from` stands in for the controller resolving valueFrom
    (pod template hashes, fieldRefs) at run time."""
    merged = {arg["name"]: dict(arg) for arg in template_args}
    for arg in incoming:
        if arg["name"] in merged:
            if "value" in arg:
                merged[arg["name"]] = {"name": arg["name"], "value": arg["value"]}
            elif "valueFrom" in arg:
                merged[arg["name"]] = {"name": arg["name"], "valueFrom": arg["valueFrom"]}
    values: dict[str, str] = {}
    for name, arg in merged.items():
        if "value" in arg:
            values[name] = str(arg["value"])
        elif "valueFrom" in arg and name in resolved_value_from:
            values[name] = resolved_value_from[name]
        else:
            raise UnresolvedArgError(f"args.{name} was not resolved")
    return values


def substitute_args(text: str, args: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        tag = match.group(1).strip()
        if not tag.startswith("args.") or tag[len("args."):] not in args:
            raise UnresolvedArgError(f"failed to resolve {{{{{match.group(1)}}}}}")
        return args[tag[len("args."):]]

    return PLACEHOLDER.sub(replace, text)


def evaluate_measurement(result: Any, success_condition: str | None, failure_condition: str | None) -> Phase:
    try:
        success = eval_condition(success_condition, result) if success_condition else False
        failure = eval_condition(failure_condition, result) if failure_condition else False
    except ExprError:
        return Phase.ERROR
    if not success_condition and not failure_condition:
        return Phase.SUCCESSFUL
    if success_condition and not failure_condition:
        failure = not success
    elif failure_condition and not success_condition:
        success = not failure
    if failure:
        return Phase.FAILED
    if not success:
        return Phase.INCONCLUSIVE
    return Phase.SUCCESSFUL


@dataclass(frozen=True)
class MetricLimits:
    count: int | None
    failure_limit: int
    inconclusive_limit: int
    consecutive_error_limit: int

    @classmethod
    def of(cls, metric: Mapping[str, Any]) -> MetricLimits:
        count = metric.get("count")
        if count is None and "interval" not in metric:
            count = 1  # Metric.EffectiveCount: no interval means a single measurement
        return cls(
            count=count,
            failure_limit=metric.get("failureLimit", 0),
            inconclusive_limit=metric.get("inconclusiveLimit", 0),
            consecutive_error_limit=metric.get("consecutiveErrorLimit", DEFAULT_CONSECUTIVE_ERROR_LIMIT),
        )


def assess_metric(measurements: Iterable[Phase], limits: MetricLimits, *, terminating: bool = False) -> Phase:
    """The metric's phase after the given measurements, re-assessed after each one as the controller does."""
    failed = inconclusive = count = consecutive_errors = 0
    phase = Phase.PENDING
    for measurement in measurements:
        if measurement is Phase.ERROR:
            consecutive_errors += 1
        else:
            consecutive_errors = 0
            count += 1
            failed += measurement is Phase.FAILED
            inconclusive += measurement is Phase.INCONCLUSIVE
        phase = Phase.RUNNING
        if limits.failure_limit >= 0 and failed > limits.failure_limit:
            phase = Phase.FAILED
        if inconclusive > limits.inconclusive_limit:
            phase = Phase.INCONCLUSIVE
        if consecutive_errors > limits.consecutive_error_limit:
            phase = Phase.ERROR
        if phase is Phase.RUNNING and limits.count is not None and count >= limits.count:
            phase = Phase.SUCCESSFUL
        if phase is not Phase.RUNNING:
            return phase
    if terminating and phase in (Phase.RUNNING, Phase.PENDING):
        return Phase.SUCCESSFUL
    return phase
