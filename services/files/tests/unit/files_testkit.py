"""Run parse_file over bytes and collect everything it reports."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from files.domain import CanonicalRecord, ColumnMapping, ParsedChunk, ParseOptions, ParseSummary, RowError, parse_file


@dataclass
class Parsed:
    chunks: list[ParsedChunk]
    rows: list[CanonicalRecord]
    errors: list[RowError]
    summary: ParseSummary

    def column(self, name: str) -> list[Any]:
        return [getattr(row, name) for row in self.rows]

    def table(self, *names: str) -> list[tuple[Any, ...]]:
        return [tuple(getattr(row, name) for name in names) for row in self.rows]

    def error_table(self) -> list[tuple[int, str | None, str]]:
        return [(e.line, e.column, e.code.value) for e in self.errors]

    @property
    def problem_codes(self) -> list[str]:
        return [p.code.value for p in self.summary.problems]


def mapping(**fields: Any) -> ColumnMapping:
    return ColumnMapping.model_validate(fields)


def run(data: bytes, *, filename: str = "data.csv", mapping: ColumnMapping | None = None,
        **options: Any) -> Parsed:
    chunks = list(parse_file(io.BytesIO(data), filename=filename, mapping=mapping,
                             options=ParseOptions(**options)))
    summary = chunks[-1].summary
    assert summary is not None, "the last chunk carries the summary"
    assert all(c.summary is None for c in chunks[:-1]), "only the last chunk carries a summary"
    rows = [record for chunk in chunks for record in chunk.records()]
    errors = [error for chunk in chunks for error in chunk.errors]
    return Parsed(chunks=chunks, rows=rows, errors=errors, summary=summary)
