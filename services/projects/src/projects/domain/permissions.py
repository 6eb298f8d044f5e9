"""Who may do what in a project. Non-members learn nothing (404, as if the project did not exist);
members whose role is too weak are told so (403)."""

from __future__ import annotations

from enum import StrEnum

from platform_common.contracts.projects import ProjectStatus, Role
from platform_common.errors import Conflict, DomainError, Forbidden, NotFound

NO_ACCESS = "You don't have access to this project"


class Action(StrEnum):
    VIEW = "view"
    EDIT = "edit"
    RUN_JOBS = "run_jobs"
    MANAGE_MEMBERS = "manage_members"
    ARCHIVE = "archive"


REQUIRED_ROLE: dict[Action, Role] = {
    Action.VIEW: Role.VIEWER,
    Action.EDIT: Role.EDITOR,
    Action.RUN_JOBS: Role.EDITOR,
    Action.MANAGE_MEMBERS: Role.OWNER,
    Action.ARCHIVE: Role.OWNER,
}
# Archived projects are read-only; these are the actions that change content.
_CHANGES_CONTENT = frozenset({Action.EDIT, Action.RUN_JOBS, Action.MANAGE_MEMBERS})


def project_not_found() -> NotFound:
    return NotFound("The project was not found.", code="project_not_found")


def authorize(role: Role | None, action: Action, *, not_found: DomainError | None = None) -> Role:
    """The caller's role if it allows `action`; otherwise the error to answer with."""
    if role is None:
        raise not_found or project_not_found()
    if not role.at_least(REQUIRED_ROLE[action]):
        raise Forbidden(NO_ACCESS, code="project_forbidden")
    return role


def ensure_changeable(status: ProjectStatus, action: Action) -> None:
    if status is ProjectStatus.ARCHIVED and action in _CHANGES_CONTENT:
        raise Conflict("This project is archived: restore it before changing it.", code="project_archived")


def ensure_an_owner_remains(owners_after: int) -> None:
    if owners_after < 1:
        raise Conflict("A project needs at least one owner: make someone else an owner first.", code="last_owner")
