"""`recon match` end to end on the README example, and its strict handling of bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from matcher.cli import main

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "bank-vs-ledger"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    target = tmp_path / "example"
    shutil.copytree(EXAMPLE, target)
    return target


def run(example: Path, *extra: str) -> int:
    return main(
        [
            "match",
            str(example / "bank.csv"),
            str(example / "ledger.csv"),
            "--rules",
            str(example / "rules.yaml"),
            "--out",
            str(example / "out"),
            "--quiet",
            *extra,
        ]
    )


def test_example_reconciles_and_writes_every_file(example: Path) -> None:
    assert run(example) == 0
    out = example / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "matched.csv",
        "review.csv",
        "summary.json",
        "unmatched_left.csv",
        "unmatched_right.csv",
    ]
    matched = pl.read_csv(out / "matched.csv")
    review = pl.read_csv(out / "review.csv")
    passes = set(matched["pass_name"])
    assert {"exact-reference", "reference-in-text", "counterparty-fuzzy", "split-payments"} <= passes
    splits = matched.filter(pl.col("kind") == "one_to_many")
    assert "JE-1011;JE-1012;JE-1013" in splits["right_ids"].to_list()
    assert "ambiguous" in review["reason"].to_list()
    unmatched = pl.read_csv(out / "unmatched_left.csv")
    soylent = unmatched.filter(pl.col("record_id") == "B-0014").row(0, named=True)
    assert "amount off by 3.50 (0.7 %), tolerance 0.5 % of max" in soylent["explanation"]
    summary = json.loads((out / "summary.json").read_text())
    left_total = summary["stats"]["matched_left"] + summary["stats"]["unmatched_left"]
    assert left_total == 30 and summary["rule_set"] == "bank-vs-ledger"


def test_output_is_identical_on_a_second_run(example: Path) -> None:
    assert run(example) == 0
    first = {p.name: p.read_bytes() for p in (example / "out").glob("*.csv")}
    assert run(example) == 0
    assert first == {p.name: p.read_bytes() for p in (example / "out").glob("*.csv")}


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "bank.csv",
            "B-0003;04.03.2024;05.03.2024;99,90",
            "B-0003;04.03.2024;05.03.2024;9x9,90",
            "error: bank.csv row 4: amount '9x9,90' is not a number",
        ),
        (
            "bank.csv",
            "B-0003;04.03.2024;05.03.2024",
            "B-0003;04.03.2024;2024-03-05",
            "error: bank.csv row 4: value_date '2024-03-05' does not match the date format '%d.%m.%Y'",
        ),
        (
            "ledger.csv",
            "entry_id,posting_date,amount",
            "entry_id,posting_date,amt",
            "error: ledger.csv: no column 'amount' (mapped to amount)",
        ),
        ("ledger.csv", "JE-1002,", "JE-1001,", "error: right records: record_id is not unique (e.g. 'JE-1001')"),
        (
            "rules.yaml",
            "days: 7, mode: filter}",
            "days: -7, mode: filter}",
            "error: passes[1].comparisons[2].days: Input should be greater than or equal to 0",
        ),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(
    example: Path, capsys: pytest.CaptureFixture[str], file: str, old: str, new: str, message: str
) -> None:
    _replace(example / file, old, new)
    assert run(example) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message), err
    assert "\n" not in err
    assert not (example / "out").exists()


def test_missing_file_and_missing_rules(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "match",
            str(example / "nope.csv"),
            str(example / "ledger.csv"),
            "--rules",
            str(example / "rules.yaml"),
            "--quiet",
        ]
    )
    assert code == 2 and "nope.csv: no such file" in capsys.readouterr().err
    code = main(["match", str(example / "bank.csv"), str(example / "ledger.csv"), "--rules", str(example / "x.yaml")])
    assert code == 2 and "cannot read rules file" in capsys.readouterr().err


def test_xlsx_input_reads_like_csv(example: Path) -> None:
    from openpyxl import Workbook

    ledger = pl.read_csv(example / "ledger.csv", infer_schema=False)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(ledger.columns)
    for row in ledger.iter_rows():
        sheet.append([float(v) if i == 2 else v for i, v in enumerate(row)])
    workbook.save(example / "ledger.xlsx")
    assert (
        main(
            [
                "match",
                str(example / "bank.csv"),
                str(example / "ledger.xlsx"),
                "--rules",
                str(example / "rules.yaml"),
                "--out",
                str(example / "xlsx-out"),
                "--quiet",
            ]
        )
        == 0
    )
    assert run(example) == 0
    from_csv = pl.read_csv(example / "out" / "matched.csv")
    from_xlsx = pl.read_csv(example / "xlsx-out" / "matched.csv")
    assert from_xlsx.select("left_ids", "right_ids", "score").equals(from_csv.select("left_ids", "right_ids", "score"))
