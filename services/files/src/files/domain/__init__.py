"""Parsing and normalisation of uploaded files into canonical records (pure: no I/O frameworks).

Entry points: `parse_file` (stream chunks of canonical rows plus every error) and `preview`
(format, columns, first rows and problems, before anything is committed). See services/files/PARSING.md.
"""

from files.domain.canonical import (
    CANONICAL_SCHEMA,
    COPY_COLUMNS,
    CanonicalRecord,
    OccurrenceCounter,
    fingerprint_key,
    row_fingerprint,
)
from files.domain.errors import ErrorCode, FileProblem, RowError, ValueExample
from files.domain.mapping import (
    AmountColumn,
    ColumnMapping,
    CurrencySource,
    DateColumn,
    ExtraField,
    FieldType,
    FileFormat,
    OnError,
    ParseOptions,
    TextColumn,
)
from files.domain.pipeline import ParsedChunk, ParseSummary, parse_file
from files.domain.preview import ColumnSummary, Preview, preview, suggest_mapping

__all__ = [
    "CANONICAL_SCHEMA",
    "COPY_COLUMNS",
    "AmountColumn",
    "CanonicalRecord",
    "ColumnMapping",
    "ColumnSummary",
    "CurrencySource",
    "DateColumn",
    "ErrorCode",
    "ExtraField",
    "FieldType",
    "FileFormat",
    "FileProblem",
    "OccurrenceCounter",
    "OnError",
    "ParseOptions",
    "ParseSummary",
    "ParsedChunk",
    "Preview",
    "RowError",
    "TextColumn",
    "ValueExample",
    "fingerprint_key",
    "parse_file",
    "preview",
    "row_fingerprint",
    "suggest_mapping",
]
