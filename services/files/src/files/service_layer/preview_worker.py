"""The preview, run in a parser process: the domain's `preview` over a local file, as JSON-ready values.
Nothing is stored."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from files.domain import CanonicalRecord, ColumnSummary, ErrorCode, FileProblem, preview
from files.service_layer.parse_worker import bind


@dataclass(frozen=True)
class PreviewJob:
    path: str
    filename: str
    mapping: dict[str, Any] | None
    options: dict[str, Any]
    rows: int


def preview_file(job: PreviewJob) -> dict[str, Any]:
    try:
        mapping, options = bind(job.mapping, job.options)
    except ValueError as invalid:
        problem = FileProblem(code=ErrorCode.MAPPING_INVALID, message=f"the mapping is not valid: {invalid}")
        return {"format": None, "detected": {}, "columns": [], "raw_rows": [], "rows": [], "errors": [],
                "problems": [problem.as_dict()], "mapping": None, "mapping_suggested": False, "ready": False}
    with Path(job.path).open("rb") as stream:
        result = preview(stream, filename=job.filename, mapping=mapping, options=options, limit=job.rows)
    return {
        "format": result.format.value if result.format is not None else None,
        "detected": {key: _plain(value) for key, value in result.details.items()},
        "columns": [_column(summary) for summary in result.columns],
        "raw_rows": [{key: _plain(value) for key, value in row.items()} for row in result.raw_rows],
        "rows": [_record(record) for record in result.rows],
        "errors": [error.as_dict() for error in result.errors],
        "problems": [problem.as_dict() for problem in result.problems],
        "mapping": result.mapping.model_dump(mode="json", exclude_none=True) if result.mapping else None,
        "mapping_suggested": result.mapping_suggested,
        "window_rows": result.window_rows,
        "notes": list(result.notes),
        "ready": not result.problems and result.mapping is not None,
    }


def _column(summary: ColumnSummary) -> dict[str, Any]:
    return {"name": summary.name, "type": summary.inferred_type, "non_empty": summary.non_empty,
            "examples": list(summary.examples), "decimal_separator": summary.decimal_separator,
            "date_order": summary.date_order, "problems": [p.as_dict() for p in summary.problems]}


def _record(record: CanonicalRecord) -> dict[str, Any]:
    """A normalised row as the user should see it: exact amounts as strings, ISO dates."""
    view = record._asdict()
    view.pop("fingerprint")
    view.pop("occurrence")
    extras = view.pop("extras")
    return {**{key: _plain(value) for key, value in view.items()}, "extras": json.loads(extras) if extras else {}}


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
