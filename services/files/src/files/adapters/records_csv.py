"""Canonical frames -> the CSV that `COPY records FROM STDIN (FORMAT csv)` reads (column order:
adapters.datasets.RECORD_COPY_COLUMNS). Encoded by polars in the parser process, so the service's event
loop only forwards bytes."""

from __future__ import annotations

import io

import polars as pl

from files.adapters.datasets import copy_columns


def encode_records(frame: pl.DataFrame, *, with_extras: bool = True) -> bytes:
    """CSV rows (no header). Null is an empty unquoted field and "" an empty quoted one, as COPY expects;
    bytea goes as hex text (\\x...). Without extras (the mapping has none) the column is left to its default,
    which saves Postgres parsing a million '{}'."""
    out = frame.select(
        pl.col("line").cast(pl.String).alias("record_id"),
        pl.col("line").alias("line_no"),
        "external_id", "amount", "currency", "value_date", "booking_date", "reference", "counterparty",
        "description", pl.col("extras").fill_null("{}"),  # the column is NOT NULL: no extras is an empty object
        pl.concat_str([pl.lit("\\x"), pl.col("fingerprint").bin.encode("hex")]).alias("fingerprint"),
        "occurrence",
    )
    if not with_extras:
        out = out.drop("extras")
    assert tuple(out.columns) == copy_columns(with_extras=with_extras)
    buffer = io.BytesIO()
    out.write_csv(buffer, include_header=False)
    return buffer.getvalue()
