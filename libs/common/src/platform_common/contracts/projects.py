"""Request and response models of the projects API, shared by the projects service (validation) and the
gateway (OpenAPI). One definition, so the document cannot drift from what is enforced."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

# Printable text only: a control character in a name is a bug or an attack, never data we want.
_NO_CONTROL_CHARS = r"^[^\x00-\x1f\x7f]*$"

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200,
                                        pattern=_NO_CONTROL_CHARS)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320)]


class Role(StrEnum):
    """Project roles, strongest first: owners manage members, editors change content, viewers read."""

    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        return {"viewer": 1, "editor": 2, "owner": 3}[self.value]

    def at_least(self, required: Role) -> bool:
        return self.rank >= required.rank


class ProjectStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProjectCreate(_Command):
    name: Name
    description: Description = ""


class ProjectUpdate(_Command):
    name: Name | None = None
    description: Description | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> ProjectUpdate:
        if self.name is None and self.description is None:
            raise ValueError("name or description is required")
        return self


ProjectSort = Literal["name", "-name", "created_at", "-created_at", "updated_at", "-updated_at"]


class ProjectListQuery(_Command):
    """Query string of the project list; `cursor` is the opaque `next_cursor` of the previous page."""

    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200, pattern=_NO_CONTROL_CHARS)] | None = None
    status: Literal["active", "archived", "all"] = "active"
    role: Role | None = None
    sort: ProjectSort = "-updated_at"
    limit: int = Field(default=20, ge=1, le=100)
    cursor: Annotated[str, StringConstraints(max_length=512)] | None = None


class ProjectCounts(BaseModel):
    members: int
    data_sources: int
    jobs: int


class ProjectView(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    status: ProjectStatus
    role: Role = Field(description="The caller's role in this project")
    counts: ProjectCounts
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None


class ProjectPage(BaseModel):
    items: list[ProjectView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class ProjectAccess(BaseModel):
    """The caller's role in a project: what other services ask before serving project data."""

    project_id: uuid.UUID
    role: Role


class MemberInvite(_Command):
    """Public form: members are added by the email address of their account."""

    email: Email
    role: Role


class MemberGrant(_Command):
    """Internal form (gateway → projects) once the gateway has resolved the email to an account."""

    user_id: uuid.UUID
    email: Email
    role: Role


class MemberRoleChange(_Command):
    role: Role


class MemberView(BaseModel):
    user_id: uuid.UUID
    email: str
    role: Role
    added_at: datetime


class MemberList(BaseModel):
    items: list[MemberView]


class DataSourceCreate(_Command):
    name: Name
    description: Description = ""


class DataSourceView(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    description: str
    created_at: datetime
    ingestion_status: Literal["committed", "rejected", "duplicate", "failed"] | None = Field(
        default=None, description="Outcome of the latest ingested file, null before the first one")
    latest_file_id: uuid.UUID | None = None
    latest_dataset_id: uuid.UUID | None = None
    row_count: int | None = None
    error_count: int | None = None
    ingested_at: datetime | None = None


class DataSourceList(BaseModel):
    items: list[DataSourceView]


class JobCreate(_Command):
    left_dataset_id: uuid.UUID
    right_dataset_id: uuid.UUID
    rule_set: dict[str, Any] = Field(default_factory=dict)


class JobStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class JobView(BaseModel):
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
    error_code: str | None = Field(
        default=None, description="status failed: the matcher's stable code (rules_invalid, input_invalid, "
        "engine_error, shard_worker_lost, planning_worker_lost) for the message in `detail`; null for jobs that "
        "failed before codes were recorded"
    )
    created_at: datetime
    updated_at: datetime


class JobListQuery(_Command):
    limit: int = Field(default=20, ge=1, le=100)
    cursor: Annotated[str, StringConstraints(max_length=512)] | None = None


class JobPage(BaseModel):
    items: list[JobView]
    next_cursor: str | None
