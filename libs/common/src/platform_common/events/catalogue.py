"""Every event the platform exchanges. Add fields only (optional, with defaults); bump VERSION to break."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from platform_common.events.base import Event, register


@register
class FileUploaded(Event):
    """A raw file is stored and ready to ingest: from an upload, or dropped off by another system."""

    TOPIC = "file.uploaded"
    TYPE = "file.uploaded"

    file_id: uuid.UUID
    project_id: uuid.UUID
    data_source_id: uuid.UUID
    object_uri: str = Field(min_length=1, description="file:///... or s3://bucket/key")
    filename: str = Field(min_length=1)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    size_bytes: int | None = Field(default=None, ge=0)
    content_type: str | None = None
    uploaded_by: uuid.UUID | None = None
    origin: Literal["upload", "external"] = "upload"
    on_error: Literal["reject", "skip"] = "reject"

    def partition_key(self) -> bytes:
        return str(self.data_source_id).encode()


@register
class FileIngested(Event):
    """Ingestion finished: a dataset version was committed whole, the file was rejected (its content), it
    duplicated a stored file, or it failed (our side: a bug or a crashing parser; uploading again may work)."""

    TOPIC = "file.ingested"
    TYPE = "file.ingested"

    file_id: uuid.UUID
    project_id: uuid.UUID
    data_source_id: uuid.UUID
    status: Literal["committed", "rejected", "duplicate", "failed"]
    dataset_id: uuid.UUID | None = None
    row_count: int = 0
    error_count: int = 0

    def partition_key(self) -> bytes:
        return str(self.data_source_id).encode()


@register
class JobStarted(Event):
    """A reconciliation job was requested; the matcher plans it into shards."""

    TOPIC = "job.started"
    TYPE = "job.started"

    job_id: uuid.UUID
    project_id: uuid.UUID
    left_dataset_id: uuid.UUID
    right_dataset_id: uuid.UUID
    rule_set: dict[str, Any] = Field(default_factory=dict)
    rule_set_version: int = 1
    requested_by: uuid.UUID | None = None

    def partition_key(self) -> bytes:
        return str(self.job_id).encode()


@register
class ShardRequested(Event):
    """One independent slice of a job; shards hold whole blocks so 1:1 exclusivity stays exact."""

    TOPIC = "shard.requested"
    TYPE = "shard.requested"

    job_id: uuid.UUID
    project_id: uuid.UUID
    shard_no: int = Field(ge=0)
    shard_count: int = Field(ge=1)
    left_dataset_id: uuid.UUID
    right_dataset_id: uuid.UUID
    rule_set: dict[str, Any] = Field(default_factory=dict)
    # Fixed by the planner, so every replica cuts this shard's output into the same batches (the results
    # service de-duplicates by batch sequence). Absent in events from older planners: the worker's setting.
    max_matches_per_batch: int | None = Field(default=None, ge=1)

    def partition_key(self) -> bytes:
        return f"{self.job_id}:{self.shard_no}".encode()


class MatchItem(BaseModel):
    """One match (or proposal) inside a batch; not a top-level event."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    left_ids: list[str] = Field(min_length=1)
    right_ids: list[str] = Field(min_length=1)
    score: float = Field(ge=0.0, le=1.0)
    status: Literal["auto", "review"]
    pass_name: str
    explanation: dict[str, Any] = Field(default_factory=dict)


class UnmatchedItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    side: Literal["left", "right"]
    record_id: str
    explanation: dict[str, Any] = Field(default_factory=dict)


@register
class MatchBatchProduced(Event):
    """A bounded, sequence-numbered slice of one shard's output; `is_last` closes the shard."""

    TOPIC = "match.batch"
    TYPE = "match.batch"

    job_id: uuid.UUID
    project_id: uuid.UUID
    shard_no: int = Field(ge=0)
    shard_count: int = Field(ge=1)
    batch_seq: int = Field(ge=0)
    is_last: bool
    matches: list[MatchItem] = Field(default_factory=list)
    unmatched: list[UnmatchedItem] = Field(default_factory=list)

    def partition_key(self) -> bytes:
        return str(self.job_id).encode()


@register
class JobProgressed(Event):
    """A job was planned, one of its shards finished, or the job failed: planning or one shard (`shard_no`)
    met an error that repeating cannot fix; `error_code` names it and `detail` is its message."""

    TOPIC = "job.progress"
    TYPE = "job.progress"

    job_id: uuid.UUID
    shard_no: int | None = None
    stage: Literal["planned", "shard_started", "shard_finished", "failed"]
    shard_count: int | None = None
    detail: str | None = None
    error_code: str | None = Field(
        default=None,
        description="stage failed: rules_invalid, input_invalid, engine_error, shard_worker_lost or "
        "planning_worker_lost (stable)",
    )
    project_id: uuid.UUID | None = Field(
        default=None, description="stage failed: the job's project, for consumers that have not seen the job yet"
    )

    def partition_key(self) -> bytes:
        return str(self.job_id).encode()


@register
class JobCompleted(Event):
    TOPIC = "job.completed"
    TYPE = "job.completed"

    job_id: uuid.UUID
    project_id: uuid.UUID
    status: Literal["succeeded", "failed"]
    matched: int = 0
    review: int = 0
    unmatched_left: int = 0
    unmatched_right: int = 0
    detail: str | None = None

    def partition_key(self) -> bytes:
        return str(self.job_id).encode()
