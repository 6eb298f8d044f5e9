"""Reading CSV/TSV/XLSX files into canonical records for the CLI, and writing its result files.

Parsing is strict: a value that is present but cannot be read (an amount that is not a number, a
date that does not fit the format) stops the run with its row number; it is never coerced.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from matcher.domain import InputError, MatchOutcome, SideMapping

CANONICAL_TEXT = ("external_id", "currency", "reference", "counterparty", "description")
CANONICAL_DATES = ("value_date", "booking_date")
CANONICAL = ("record_id", "amount", *CANONICAL_TEXT, *CANONICAL_DATES)
_HEADER_LINES = 1  # data row i (0-based) sits on line/row i + 2 of the file
_MAX_SCALE = 18


def read_records(path: Path, mapping: SideMapping) -> pl.DataFrame:
    raw = _read_raw(path, mapping)
    return to_canonical(raw, mapping, path.name)


def _read_raw(path: Path, mapping: SideMapping) -> pl.DataFrame:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, mapping.sheet)
    delimiter = mapping.delimiter or ("\t" if suffix in (".tsv", ".tab") else ",")
    try:
        return pl.read_csv(
            path, separator=delimiter, infer_schema=False, encoding=mapping.encoding,
            truncate_ragged_lines=False,
        )  # fmt: skip
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, UnicodeDecodeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path.name}: cannot read as CSV: {first}") from None


def _read_xlsx(path: Path, sheet: str | None) -> pl.DataFrame:
    # openpyxl instead of polars.read_excel: the fastexcel engine is not installed here.
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise InputError(f"{path.name}: cannot read as XLSX: {exc}") from None
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise InputError(f"{path.name}: no sheet {sheet!r} (sheets: {', '.join(workbook.sheetnames)})")
        rows = list((workbook[sheet] if sheet else workbook.worksheets[0]).iter_rows(values_only=True))
    finally:
        workbook.close()
    if not rows:
        raise InputError(f"{path.name}: the sheet is empty")
    header = [str(h).strip() if h is not None else f"column_{i + 1}" for i, h in enumerate(rows[0])]
    body = [r for r in rows[1:] if any(v is not None and str(v).strip() for v in r)]
    columns = {name: [_cell(r[i]) if i < len(r) else None for r in body] for i, name in enumerate(header)}
    return pl.DataFrame(columns, schema=dict.fromkeys(header, pl.Object))


def _cell(value: Any) -> Any:
    # Excel numbers are doubles; their shortest repr is the number the user typed and sees.
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date()
    return value


def to_canonical(raw: pl.DataFrame, mapping: SideMapping, source: str) -> pl.DataFrame:
    unknown = sorted(set(mapping.columns) - set(CANONICAL))
    if unknown:
        raise InputError(f"{source}: mapping names unknown field(s) {', '.join(unknown)}; "
                         f"canonical fields are {', '.join(CANONICAL)}")  # fmt: skip
    columns = {field: mapping.columns.get(field, field) for field in CANONICAL}
    for field, column in mapping.columns.items():
        if column not in raw.columns:
            raise InputError(f"{source}: no column {column!r} (mapped to {field}); "
                             f"columns are: {', '.join(raw.columns)}")  # fmt: skip
    used = {column for column in columns.values() if column in raw.columns}
    out: dict[str, pl.Series] = {}
    if columns["record_id"] in raw.columns:
        out["record_id"] = _text(raw[columns["record_id"]])
    else:
        out["record_id"] = pl.Series([str(i + 1 + _HEADER_LINES) for i in range(raw.height)], dtype=pl.Utf8)
    if columns["amount"] in raw.columns:
        out["amount"] = parse_amounts(raw[columns["amount"]], mapping, source)
    for field in CANONICAL_TEXT:
        if columns[field] in raw.columns:
            out[field] = _text(raw[columns[field]])
    if "currency" in out:
        out["currency"] = out["currency"].str.to_uppercase()
    for field in CANONICAL_DATES:
        if columns[field] in raw.columns:
            out[field] = parse_dates(raw[columns[field]], mapping, source, field)
    for column in raw.columns:
        if column not in used and column not in out:
            out[column] = _text(raw[column])
    return pl.DataFrame(out)


def _text(series: pl.Series) -> pl.Series:
    if series.dtype == pl.Object:
        values = [None if v is None else (v.isoformat() if isinstance(v, dt.date) else str(v)) for v in series]
        series = pl.Series(series.name, values, dtype=pl.Utf8)
    return series.cast(pl.Utf8).str.strip_chars().replace("", None)


def parse_amounts(series: pl.Series, mapping: SideMapping, source: str) -> pl.Series:
    text = _text(series)
    cleaned = text.str.replace_all(r"\s", "")
    # "(12.50)" is an accountant's -12.50; "12.50-" is a bank's.
    cleaned = cleaned.str.replace(r"^\((.*)\)$", "-$1").str.replace(r"^([^-].*)-$", "-$1")
    if mapping.thousands_separator:
        cleaned = cleaned.str.replace_all(mapping.thousands_separator, "", literal=True)
    if mapping.decimal_separator != ".":
        cleaned = cleaned.str.replace_all(".", "\u0000", literal=True).str.replace(",", ".", literal=True)
    valid = cleaned.str.contains(r"^[+-]?(\d+\.?\d*|\.\d+)$")
    bad = text.is_not_null() & ~valid.fill_null(False)
    if bad.any():
        index = int(bad.arg_true()[0])
        raise InputError(f"{source} row {index + 1 + _HEADER_LINES}: amount {text[index]!r} is not a number"
                         + _separator_hint(mapping))  # fmt: skip
    fraction = cleaned.str.extract(r"\.(\d*)$", 1).str.len_chars().fill_null(0)
    scale = int(fraction.max() or 0)  # type: ignore[arg-type]
    if scale > _MAX_SCALE:
        index = int((fraction > _MAX_SCALE).arg_true()[0])
        raise InputError(f"{source} row {index + 1 + _HEADER_LINES}: amount {text[index]!r} has more than "
                         f"{_MAX_SCALE} decimals")  # fmt: skip
    digits = cleaned.str.replace(r"^[+-]", "").str.replace(".", "", literal=True).str.strip_chars_start("0")
    too_long = digits.str.len_chars().fill_null(0) + (scale - fraction) > 38
    if too_long.any():
        index = int(too_long.arg_true()[0])
        raise InputError(f"{source} row {index + 1 + _HEADER_LINES}: amount {text[index]!r} is too large")
    return cleaned.cast(pl.Decimal(38, scale), strict=True).alias("amount")


def _separator_hint(mapping: SideMapping) -> str:
    thousands = mapping.thousands_separator or "none"
    return f" (decimal separator {mapping.decimal_separator!r}, thousands separator {thousands!r})"


def parse_dates(series: pl.Series, mapping: SideMapping, source: str, field: str) -> pl.Series:
    fmt = mapping.date_format or "%Y-%m-%d"
    if series.dtype == pl.Object:
        values = list(series)
        native = [v if isinstance(v, dt.date) else None for v in values]
        text = pl.Series([None if isinstance(v, dt.date) or v is None else str(v).strip() or None for v in values],
                         dtype=pl.Utf8)  # fmt: skip
        parsed = text.str.strptime(pl.Date, fmt, strict=False)
        combined = pl.Series(field, native, dtype=pl.Date).fill_null(parsed)
        return _check_dates(text, parsed, source, field, fmt, combined)
    text = _text(series)
    parsed = text.str.strptime(pl.Date, fmt, strict=False)
    return _check_dates(text, parsed, source, field, fmt, parsed.alias(field))


def _check_dates(text: pl.Series, parsed: pl.Series, source: str, field: str, fmt: str, result: pl.Series) -> pl.Series:
    bad = text.is_not_null() & parsed.is_null()
    if bad.any():
        index = int(bad.arg_true()[0])
        raise InputError(f"{source} row {index + 1 + _HEADER_LINES}: {field} {text[index]!r} "
                         f"does not match the date format {fmt!r}")  # fmt: skip
    return result


def write_outputs(outcome: MatchOutcome, out_dir: Path, summary: dict[str, Any]) -> dict[str, str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "matched": out_dir / "matched.csv",
        "review": out_dir / "review.csv",
        "unmatched_left": out_dir / "unmatched_left.csv",
        "unmatched_right": out_dir / "unmatched_right.csv",
        "summary": out_dir / "summary.json",
    }
    flat = outcome.explain_matches().with_columns(pl.col("left_ids").list.join(";"), pl.col("right_ids").list.join(";"))
    flat.filter(pl.col("status") == "auto").write_csv(files["matched"])
    flat.filter(pl.col("status") == "review").write_csv(files["review"])
    outcome.explain_unmatched("left").write_csv(files["unmatched_left"])
    outcome.explain_unmatched("right").write_csv(files["unmatched_right"])
    names = {key: str(path) for key, path in files.items()}
    summary = {**summary, "files": names, "stats": outcome.stats.to_dict()}
    files["summary"].write_text(json.dumps(summary, indent=2, default=_json_default) + "\n", encoding="utf-8")
    return names


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
