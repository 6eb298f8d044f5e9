"""Projects, memberships and jobs as the projects service reasons about them. The request and response
shapes are the shared contracts (platform_common.contracts.projects); re-exported here for the service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from platform_common.contracts.projects import (
    JobCreate,
    JobStatus,
    JobView,
    ProjectStatus,
    ProjectView,
    Role,
)

__all__ = ["JobCreate", "JobStatus", "JobView", "Membership", "ProjectStatus", "ProjectView", "Role"]


@dataclass(frozen=True)
class Membership:
    """The caller's standing in a project, as read inside a write's transaction."""

    project_id: uuid.UUID
    user_id: uuid.UUID
    role: Role
    status: ProjectStatus
