"""Just enough PromQL reading to list which metrics and label matchers an expression uses.

Not a parser: strings, grouping clauses and durations are blanked out, then what remains that looks
like an identifier and is not a function, keyword or label is a metric name. Good for our own rules,
dashboards and analysis queries, whose shape we control; promtool checks their syntax separately.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
            "offset", "inf", "nan", "Inf", "NaN"}
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*\"")
IDENTIFIER = re.compile(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()")


@dataclass(frozen=True)
class Selector:
    metric: str
    labels: frozenset[str]


def without_noise(expr: str) -> str:
    expr = re.sub(r"\{[^}]*\}", "{}", expr)  # matchers (and the strings in them)
    expr = re.sub(r'"[^"]*"', '""', expr)
    expr = GROUPING.sub(" ", expr)
    return re.sub(r"\[[^\]]*\]", "[]", expr)  # range and subquery durations


def metric_names(expr: str) -> set[str]:
    return {name for name in IDENTIFIER.findall(without_noise(expr)) if name not in KEYWORDS}


def selectors(expr: str) -> list[Selector]:
    return [Selector(metric, frozenset(label for label, _ in MATCHER.findall(body)))
            for metric, body in SELECTOR.findall(expr)]
