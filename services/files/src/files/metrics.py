"""Ingestion and upload metrics (labels stay low-cardinality: no file, dataset or project ids)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

INGEST_STAGE_DURATION = Histogram(
    "recon_ingest_stage_duration_seconds",
    "Time spent per ingestion stage: copy (parse and COPY overlap), dedupe, index, attach, commit, total.",
    ["service", "stage"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
)
INGESTED_FILES = Counter("recon_ingested_files_total", "Ingestions by outcome.", ["service", "status"])
INGESTED_ROWS = Counter(
    "recon_ingested_rows_total",
    "Rows by fate: stored, skipped_error (bad rows skipped by on_error=skip), skipped_overlap (already stored).",
    ["service", "fate"],
)
UPLOADED_BYTES = Counter("recon_uploaded_bytes_total", "Bytes received by uploads.", ["service"])
