"""Projects and jobs as the projects service sees them."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class JobStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class NewProject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


class Project(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime


class NewJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    left_dataset_id: uuid.UUID
    right_dataset_id: uuid.UUID
    rule_set: dict[str, Any] = Field(default_factory=dict)


class Job(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    status: JobStatus
    left_dataset_id: uuid.UUID
    right_dataset_id: uuid.UUID
    shard_count: int | None
    shards_finished: int
    matched: int | None
    review: int | None
    unmatched_left: int | None
    unmatched_right: int | None
    detail: str | None
    created_at: datetime
    updated_at: datetime
