"""Rule model: loading from YAML/JSON, defaults, and validation errors that name the path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from matcher.domain import RuleError, load_rules, parse_rules, rules_from_data

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "bank-vs-ledger" / "rules.yaml"


def one_pass(**pass_fields: object) -> dict[str, object]:
    return {"version": 1, "passes": [{"name": "p", **pass_fields}]}


def error_of(data: object) -> str:
    with pytest.raises(RuleError) as caught:
        rules_from_data(data)
    return caught.value.message


def test_example_rules_load_and_keep_pass_order() -> None:
    rules = load_rules(EXAMPLE)
    assert [p.name for p in rules.passes] == [
        "exact-reference",
        "reference-in-text",
        "counterparty-fuzzy",
        "split-payments",
    ]
    assert rules.mapping is not None and rules.mapping.left.decimal_separator == ","


def test_json_and_yaml_give_the_same_rule_set(tmp_path: Path) -> None:
    data = one_pass(blocking=[{"field": "currency"}], comparisons=[{"type": "exact", "field": "reference"}])
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(data))
    assert load_rules(path) == parse_rules(json.dumps(data), "yaml")


def test_defaults_are_documented_values() -> None:
    rules = rules_from_data(one_pass(comparisons=[{"type": "fuzzy", "field": "counterparty"}]))
    pass_ = rules.passes[0]
    assert (pass_.cardinality, pass_.auto_match_threshold, pass_.review_threshold, pass_.ambiguity_margin) == (
        "one_to_one",
        0.9,
        0.6,
        0.0,
    )
    fuzzy = pass_.comparisons[0]
    assert (fuzzy.mode, fuzzy.weight, fuzzy.missing) == ("filter", 1.0, "fail")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {
                "version": 1,
                "passes": [
                    {"name": "a", "blocking": [{"field": "x"}]},
                    {"name": "b", "comparisons": [{"type": "fuzzy", "field": "r", "threshold": 1.5}]},
                ],
            },
            "passes[1].comparisons[0].threshold: must be in [0, 1]",
        ),
        (
            one_pass(comparisons=[{"type": "numeric_tolerance"}]),
            "passes[0].comparisons[0]: give `absolute` and/or `percent`",
        ),
        (
            one_pass(comparisons=[{"type": "numeric_tolerance", "absolute": "-1"}]),
            "passes[0].comparisons[0].absolute: must be a finite number >= 0",
        ),
        (
            one_pass(comparisons=[{"type": "reference", "pattern": "(?<=x)y"}]),
            "passes[0].comparisons[0].pattern: invalid regular expression '(?<=x)y': look-around",
        ),
        (
            one_pass(comparisons=[{"type": "fuzzy", "field": "x", "algorithm": "soundex"}]),
            "passes[0].comparisons[0].algorithm",
        ),
        (one_pass(blocking=[{"field": "x", "bogus": 1}]), "passes[0].blocking[0].bogus: Extra inputs"),
        (one_pass(blocking=[{"field": "x"}], review_threshold=0.95), "review_threshold must be <= auto_match"),
        (one_pass(), "passes[0]: a pass needs blocking keys or comparisons"),
        (
            one_pass(cardinality="one_to_many", blocking=[{"field": "x"}], group={"max_size": 3}),
            "needs a numeric_tolerance comparison",
        ),
        (
            one_pass(
                cardinality="many_to_one",
                blocking=[{"field": "x"}],
                comparisons=[{"type": "numeric_tolerance", "absolute": "0.01"}],
            ),
            "needs `group`",
        ),
        ({"version": 2, "passes": [{"name": "a", "blocking": [{"field": "x"}]}]}, "version"),
        ({"passes": []}, "passes: List should have at least 1 item"),
        (
            {"passes": [{"name": "a", "blocking": [{"field": "x"}]}, {"name": "a", "blocking": [{"field": "y"}]}]},
            "pass names must be unique",
        ),
        ([1, 2], "rules must be a mapping"),
        (
            one_pass(blocking=[{"field": "x", "normalise": {"equivalences": {"a": ["b"], "b": ["A"]}}}]),
            "passes[0].blocking[0].normalise: equivalences form a cycle: b -> a -> b",
        ),
        (
            one_pass(blocking=[{"field": "x", "normalise": {"equivalences": {"ltd": ["Co"], "company": ["co"]}}}]),
            "equivalences: 'co' is listed under both 'ltd' and 'company'",
        ),
    ],
)
def test_validation_errors_name_the_path(data: object, expected: str) -> None:
    assert expected in error_of(data)


def test_error_message_is_one_line_and_counts_the_rest() -> None:
    message = error_of(
        one_pass(
            comparisons=[
                {"type": "fuzzy", "field": "a", "threshold": 2},
                {"type": "fuzzy", "field": "b", "threshold": 3},
            ]
        )
    )
    assert "\n" not in message
    assert message.endswith("(and 1 more problem)")


def test_unparseable_yaml_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="not valid YAML"):
        parse_rules("passes: [")
    with pytest.raises(RuleError, match="cannot read rules file"):
        load_rules(tmp_path / "missing.yaml")


def test_comparison_names_default_to_field_and_stay_unique() -> None:
    rules = rules_from_data(
        one_pass(
            comparisons=[
                {"type": "date_window", "days": 3},
                {"type": "date_window", "days": 3, "mode": "score", "name": "closeness"},
                {"type": "fuzzy", "field": "reference"},
                {"type": "exact", "field": "reference"},
            ]
        )
    )
    assert rules.passes[0].comparison_names() == [
        "value_date",
        "closeness",
        "reference_fuzzy",
        "reference_exact",
    ]


def test_whitespace_accepts_booleans_and_modes() -> None:
    rules = rules_from_data(
        one_pass(
            blocking=[
                {"field": "a", "normalise": {"whitespace": True}},
                {"field": "b", "normalise": {"whitespace": "remove"}},
            ]
        )
    )
    modes = [k.normalise.whitespace for k in rules.passes[0].blocking if k.normalise]
    assert modes == ["collapse", "remove"]
