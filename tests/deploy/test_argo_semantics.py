"""The expr-lang subset evaluator and the ported Argo run rules, on their own (no Prometheus)."""

from __future__ import annotations

import math

import pytest
from deploy_support.argo_analysis import (
    MetricLimits,
    Phase,
    UnresolvedArgError,
    assess_metric,
    evaluate_measurement,
    merge_args,
    substitute_args,
)
from deploy_support.argo_expr import ExprError, eval_condition

S, F, UNSURE, E = Phase.SUCCESSFUL, Phase.FAILED, Phase.INCONCLUSIVE, Phase.ERROR
NAN = float("nan")


@pytest.mark.parametrize(
    ("condition", "result", "expected"),
    [
        ("result[0] >= 0.99", [0.995], True),
        ("result[0] >= 0.99", [0.98], False),
        ("len(result) > 0 && !isNaN(result[0]) && result[0] < 0.95", [], False),
        ("len(result) > 0 && !isNaN(result[0]) && result[0] < 0.95", [NAN], False),
        ("len(result) > 0 && !isNaN(result[0]) && result[0] < 0.95", [0.9], True),
        ("len(result) == 0 || result[0] > 1", [], True),
        ("result[0] > 1 || result[0] < 0", [0.5], False),
        ("!(result[0] == 0)", [0.0], False),
        ("result[0] <= 1.2 * 100 && result[0] > -1", [110.0], True),
        ("2 + 3 * 4 == 14", [], True),
        ("(2 + 3) * 4 == 20", [], True),
        ("result[0] == 3", [3.0], True),
        ("isInf(result[0])", [math.inf], True),
        ("result[0] > 0 and not isNaN(result[0])", [1.0], True),
        ("result > 0.5", 0.7, True),
    ],
)
def test_conditions_evaluate_like_expr_lang(condition: str, result: object, expected: bool) -> None:
    assert eval_condition(condition, result) is expected


def test_nan_compares_false_with_everything() -> None:
    assert not eval_condition("result[0] >= 0.99", [NAN])
    assert not eval_condition("result[0] < 0.99", [NAN])
    assert not eval_condition("result[0] == result[0]", [NAN])


@pytest.mark.parametrize(
    ("condition", "result"),
    [
        ("result[0] >= 0.99", []),  # the unguarded form: "index out of range" (argo-rollouts #1466)
        ("result[1] > 0", [1.0]),
        ("len(result) > 0 && ", [1.0]),
        ("result[0] >", [1.0]),
        ("unknown(result)", [1.0]),
        ("result[0] + 1", [1.0]),  # not a bool
        ("result[0] && true", [1.0]),
        ("result[0] @ 1", [1.0]),
    ],
)
def test_errors_where_argo_would_error(condition: str, result: object) -> None:
    with pytest.raises(ExprError):
        eval_condition(condition, result)


def test_a_measurement_that_cannot_be_evaluated_is_an_error_not_a_failure() -> None:
    assert evaluate_measurement([], "result[0] >= 0.99", None) is E
    assert evaluate_measurement([], "len(result) > 0 && result[0] >= 0.99",
                                "len(result) > 0 && result[0] < 0.95") is UNSURE


@pytest.mark.parametrize(
    ("value", "expected"),
    [([0.999], S), ([0.995], S), ([0.994], UNSURE), ([0.99], UNSURE), ([0.9899], F), ([NAN], UNSURE), ([], UNSURE)],
)
def test_a_success_and_failure_band_leaves_an_inconclusive_middle(value: list[float], expected: Phase) -> None:
    success = "len(result) > 0 && !isNaN(result[0]) && result[0] >= 0.995"
    failure = "len(result) > 0 && !isNaN(result[0]) && result[0] < 0.99"
    assert evaluate_measurement(value, success, failure) is expected


def test_a_single_condition_decides_both_ways() -> None:
    assert evaluate_measurement([5.0], "result[0] > 1", None) is S
    assert evaluate_measurement([0.5], "result[0] > 1", None) is F
    assert evaluate_measurement([5.0], None, "result[0] > 1") is F
    assert evaluate_measurement([], None, "len(result) > 0 && result[0] > 1") is S
    assert evaluate_measurement([0.5], None, None) is S


LIMITS = MetricLimits(count=5, failure_limit=1, inconclusive_limit=2, consecutive_error_limit=2)


@pytest.mark.parametrize(
    ("measurements", "expected"),
    [
        ([S, S, S, S, S], S),
        ([S, S, S, S], Phase.RUNNING),
        ([S, F, S, S, S], S),  # one flaky failure is tolerated
        ([F, S, F], F),  # the second failure exceeds failureLimit 1
        ([UNSURE, S, UNSURE, S, S], S),
        ([UNSURE, UNSURE, UNSURE], UNSURE),  # the third uncertain sample exceeds inconclusiveLimit 2: pause for a human
        ([E, E, E], E),  # three consecutive errors exceed consecutiveErrorLimit 2
        ([E, E, S, E, E, S, S, S, S], S),  # errors do not count towards `count` and a success resets them
    ],
)
def test_metric_assessment_follows_the_controller(measurements: list[Phase], expected: Phase) -> None:
    assert assess_metric(measurements, LIMITS) is expected


def test_metric_limits_default_like_the_crd() -> None:
    limits = MetricLimits.of({"name": "x", "successCondition": "true"})
    assert limits == MetricLimits(count=1, failure_limit=0, inconclusive_limit=0, consecutive_error_limit=4)
    assert MetricLimits.of({"name": "x", "interval": "1m"}).count is None


def test_a_background_metric_that_never_failed_succeeds_when_terminated() -> None:
    limits = MetricLimits.of({"interval": "2m", "failureLimit": 1, "consecutiveErrorLimit": 3})
    assert assess_metric([S, S, S], limits) is Phase.RUNNING
    assert assess_metric([S, S, S], limits, terminating=True) is S
    assert assess_metric([F, S, F], limits, terminating=True) is F


def test_args_merge_and_substitute_like_argo() -> None:
    template_args = [{"name": "canary-hash"}, {"name": "threshold", "value": "0.99"}, {"name": "namespace"}]
    incoming: list[dict[str, object]] = [{"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
                {"name": "namespace", "value": "recon"}, {"name": "undeclared", "value": "ignored"}]
    args = merge_args(template_args, incoming, {"canary-hash": "abc123"})
    assert args == {"canary-hash": "abc123", "threshold": "0.99", "namespace": "recon"}
    assert substitute_args('x{hash="{{args.canary-hash}}"} >= {{ args.threshold }}', args) == 'x{hash="abc123"} >= 0.99'
    with pytest.raises(UnresolvedArgError):
        substitute_args("{{args.missing}}", args)
    with pytest.raises(UnresolvedArgError):
        merge_args([{"name": "stable-hash"}], incoming, {})
