"""preview(): what the file looks like and how it would parse, from its first rows, before any commit.

Formats are inferred from the preview window only; the ingestion re-checks the whole column, so a
file can preview cleanly and still fail later (a "13/01" on line 90,000 of a column read as MM/DD).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import BinaryIO

import polars as pl

from files.domain.amounts import NumberFormat, parse_amount, split_amount
from files.domain.canonical import CanonicalRecord, OccurrenceCounter, finish_frame, records
from files.domain.dates import DateEvidence, DateOrder, date_evidence
from files.domain.errors import ErrorCode, FileProblem, FileRejected, RowError, ValueRejected
from files.domain.inference import AmountProfile, DateProfile, Undecided
from files.domain.mapping import ColumnMapping, FileFormat, ParseOptions
from files.domain.normalise import Normaliser
from files.domain.pipeline import ensure_seekable, prepare
from files.domain.raw import LINE, CellKind, RawBatch, kind_column
from files.domain.sources import TabularSource, open_source

_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_BOOLEAN = frozenset({"true", "false", "yes", "no", "ja", "nein", "y", "n"})


@dataclass(frozen=True, slots=True)
class ColumnSummary:
    name: str
    inferred_type: str  # empty | boolean | integer | decimal | date | text
    non_empty: int
    examples: tuple[str, ...]
    decimal_separator: str | None = None
    date_order: str | None = None  # "DD/MM/YYYY", "MM/DD/YYYY", or None when no value needs one
    problems: tuple[FileProblem, ...] = ()


@dataclass(frozen=True, slots=True)
class Preview:
    format: FileFormat | None
    details: dict[str, object]
    columns: tuple[ColumnSummary, ...]
    raw_rows: tuple[dict[str, object], ...]  # {"line": n, column: text, ...}
    rows: tuple[CanonicalRecord, ...]  # normalised, when a mapping is given or the format maps itself
    errors: tuple[RowError, ...]
    problems: tuple[FileProblem, ...]
    mapping: ColumnMapping | None  # the mapping used, or a suggestion from the header names
    mapping_suggested: bool = False
    window_rows: int = 0
    notes: tuple[str, ...] = field(default=())


def _summarise(name: str, batch: pl.DataFrame) -> ColumnSummary:
    column = batch[name]
    kinds = batch[kind_column(name)] if kind_column(name) in batch.columns else None
    frame = pl.DataFrame({"v": column.str.strip_chars(), LINE: batch[LINE],
                          "k": kinds if kinds is not None else pl.repeat(0, batch.height, eager=True)})
    frame = frame.filter(pl.col("v").is_not_null() & (pl.col("v") != ""))
    if frame.height == 0:
        return ColumnSummary(name, "empty", 0, ())
    examples = tuple(frame["v"].head(3).to_list())
    typed = frame.filter(pl.col("k") != int(CellKind.TEXT))
    text = frame.filter(pl.col("k") == int(CellKind.TEXT))
    distinct = text.group_by("v").agg(pl.col(LINE).min()).sort(LINE).rows()
    values = [value for value, _ in distinct]
    typed_kinds = set(typed["k"].to_list())
    if typed_kinds == {int(CellKind.DATE)} and not values:
        return ColumnSummary(name, "date", frame.height, examples)
    if typed_kinds <= {int(CellKind.NUMBER)} and values and all(_INTEGER.match(v) for v in values):
        return ColumnSummary(name, "integer", frame.height, examples)
    if typed_kinds <= {int(CellKind.BOOLEAN)} and all(v.casefold() in _BOOLEAN for v in values):
        return ColumnSummary(name, "boolean", frame.height, examples)
    if typed_kinds <= {int(CellKind.NUMBER)}:
        amounts = AmountProfile(name)
        for value, line in distinct:
            amounts.observe(value, line)
        resolved = amounts.resolve(complete=True)
        if all(_parses_as_amount(v, resolved) for v in values):
            if isinstance(resolved, FileProblem):
                return ColumnSummary(name, "decimal", frame.height, examples, problems=(resolved,))
            separator = resolved.decimal if isinstance(resolved, NumberFormat) else None
            return ColumnSummary(name, "decimal", frame.height, examples, decimal_separator=separator)
    if typed_kinds <= {int(CellKind.DATE)} and all(date_evidence(v) is not DateEvidence.INVALID for v in values):
        dates = DateProfile(name)
        for value, line in distinct:
            dates.observe(value, line)
        outcome = dates.resolve(complete=True)
        if isinstance(outcome, FileProblem):
            return ColumnSummary(name, "date", frame.height, examples, problems=(outcome,))
        order = outcome.value if isinstance(outcome, DateOrder) else None
        return ColumnSummary(name, "date", frame.height, examples, date_order=order)
    return ColumnSummary(name, "text", frame.height, examples)


def _parses_as_amount(value: str, resolved: NumberFormat | FileProblem | Undecided) -> bool:
    try:
        if isinstance(resolved, NumberFormat):
            parse_amount(value, resolved)
        else:
            split_amount(value)
    except ValueRejected:
        return False
    return True


_SYNONYMS: dict[str, tuple[str, ...]] = {
    "external_id": ("id", "transaction id", "transaction_id", "txn id", "entry id", "belegnummer"),
    "amount": ("amount", "betrag", "montant", "importe", "umsatz", "value", "net amount"),
    "debit": ("debit", "soll", "withdrawal", "withdrawals", "debit amount", "paid out"),
    "credit": ("credit", "haben", "deposit", "deposits", "credit amount", "paid in"),
    "currency": ("currency", "ccy", "währung", "waehrung", "devise", "moneda", "cur"),
    "value_date": ("value date", "value_date", "valuta", "wertstellung", "valutadatum", "date valeur"),
    "booking_date": ("booking date", "booking_date", "buchungstag", "buchungsdatum", "posting date", "date",
                     "datum", "transaction date"),
    "reference": ("reference", "referenz", "ref", "invoice", "invoice number", "end to end id"),
    "counterparty": ("counterparty", "name", "payee", "payer", "beneficiary", "empfänger", "auftraggeber",
                     "zahlungsempfänger", "customer", "vendor"),
    "description": ("description", "text", "verwendungszweck", "memo", "details", "narrative", "purpose",
                    "buchungstext"),
}


def suggest_mapping(summaries: tuple[ColumnSummary, ...]) -> ColumnMapping | None:
    """A starting point from header names (never applied without the user confirming it)."""
    by_name = {s.name.strip().casefold(): s for s in summaries}
    chosen: dict[str, str] = {}
    used: set[str] = set()
    for field_name, synonyms in _SYNONYMS.items():
        for synonym in synonyms:
            summary = by_name.get(synonym)
            if summary is not None and summary.name not in used:
                chosen[field_name] = summary.name
                used.add(summary.name)
                break
    if "amount" in chosen and ("debit" in chosen or "credit" in chosen):
        chosen.pop("debit", None)
        chosen.pop("credit", None)
    if ("debit" in chosen) != ("credit" in chosen):
        chosen.pop("debit", None)
        chosen.pop("credit", None)
    data: dict[str, object] = {k: v for k, v in chosen.items() if k != "currency"}
    if "currency" in chosen:
        data["currency"] = {"column": chosen["currency"]}
    try:
        return ColumnMapping.model_validate(data) if data else None
    except ValueError:
        return None


def _window(source: TabularSource, limit_rows: int) -> list[RawBatch]:
    batches, rows = [], 0
    iterator = source.batches()
    for batch in iterator:
        batches.append(batch)
        rows += batch.frame.height
        if rows >= limit_rows:
            break
    close = getattr(iterator, "close", None)
    if close is not None:
        close()  # prepare() reads the file again from the top
    return batches


def preview(stream: BinaryIO, *, filename: str, mapping: ColumnMapping | None = None,
            options: ParseOptions | None = None, limit: int = 20) -> Preview:
    options = options or ParseOptions()
    stream = ensure_seekable(stream)
    try:
        source = open_source(stream, filename, options)
        window = _window(source, options.sample_rows)
    except FileRejected as rejected:
        return Preview(format=None, details={}, columns=(), raw_rows=(), rows=(), errors=(),
                       problems=(rejected.problem,), mapping=None)
    combined = pl.concat([b.frame for b in window], how="diagonal_relaxed") if window else pl.DataFrame()
    if combined.height > options.sample_rows:
        combined = combined.head(options.sample_rows)
    summaries = tuple(_summarise(name, combined) for name in source.columns) if combined.height else ()
    raw_rows = tuple({"line": row[LINE], **{c: row.get(c) for c in source.columns}}
                     for row in combined.head(limit).iter_rows(named=True)) if combined.height else ()
    reader_errors = [e for b in window for e in b.errors]
    used = mapping or source.default_mapping
    suggested = used is None
    if used is None:
        used = suggest_mapping(summaries)

    def result(rows: list[CanonicalRecord], errors: list[RowError], problems: list[FileProblem]) -> Preview:
        return Preview(format=source.format, details=dict(source.details), columns=summaries, raw_rows=raw_rows,
                       rows=tuple(rows), errors=tuple(errors), problems=tuple(problems), mapping=used,
                       mapping_suggested=suggested, window_rows=combined.height,
                       notes=("formats were inferred from the first rows only; the ingestion checks every row",))

    if used is None:
        return result([], reader_errors, [FileProblem(
            code=ErrorCode.MAPPING_REQUIRED, message="map the columns to canonical fields to see normalised rows")])
    try:
        prepared = prepare(source, used, options, whole_column=False)
    except FileRejected as rejected:
        return result([], reader_errors, [rejected.problem])
    if isinstance(prepared, list):
        return result([], reader_errors, prepared)
    normaliser = Normaliser(prepared.plan, prepared.resolved)
    extras = [(f.name, f.output) for f in prepared.plan.fields if f.extra]
    rows: list[CanonicalRecord] = []
    errors: list[RowError] = []
    seen = 0
    occurrences = OccurrenceCounter()
    for batch in prepared.batches:
        normalised = normaliser.normalise(batch)
        errors.extend(sorted(batch.errors + normalised.errors, key=lambda e: e.line))
        frame = finish_frame(normalised.frame, extras)
        frame = frame.with_columns(pl.Series("occurrence", occurrences.assign(frame["fingerprint"].to_list()),
                                             dtype=pl.UInt32))
        if len(rows) < limit:
            rows.extend(records(frame.head(limit - len(rows))))
        seen += batch.rows_read
        if seen >= options.sample_rows:
            break
    return result(rows, errors, [])
