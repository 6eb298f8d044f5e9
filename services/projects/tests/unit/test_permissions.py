"""Who may do what in a project, and pagination cursors: pure rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from platform_common.contracts.projects import ProjectStatus, Role
from platform_common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from projects.domain.cursor import decode_cursor, encode_cursor
from projects.domain.permissions import Action, authorize, ensure_an_owner_remains, ensure_changeable

EXPECTED = {  # action: the roles allowed
    Action.VIEW: {Role.OWNER, Role.EDITOR, Role.VIEWER},
    Action.EDIT: {Role.OWNER, Role.EDITOR},
    Action.RUN_JOBS: {Role.OWNER, Role.EDITOR},
    Action.MANAGE_MEMBERS: {Role.OWNER},
    Action.ARCHIVE: {Role.OWNER},
}


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", [*Role, None])
def test_role_matrix(action: Action, role: Role | None) -> None:
    if role is None:
        with pytest.raises(NotFound):
            authorize(role, action)
    elif role in EXPECTED[action]:
        assert authorize(role, action) is role
    else:
        with pytest.raises(Forbidden) as denied:
            authorize(role, action)
        assert denied.value.detail == "You don't have access to this project"


def test_archived_projects_are_read_only_and_keep_an_owner() -> None:
    ensure_changeable(ProjectStatus.ARCHIVED, Action.VIEW)
    ensure_changeable(ProjectStatus.ARCHIVED, Action.ARCHIVE)
    for action in (Action.EDIT, Action.RUN_JOBS, Action.MANAGE_MEMBERS):
        with pytest.raises(Conflict):
            ensure_changeable(ProjectStatus.ARCHIVED, action)
    ensure_an_owner_remains(1)
    with pytest.raises(Conflict) as last:
        ensure_an_owner_remains(0)
    assert last.value.code == "last_owner"


def test_cursors_round_trip_and_refuse_tampering() -> None:
    item = uuid.uuid4()
    when = datetime(2026, 11, 28, 10, 0, 0, 123456, tzinfo=UTC)
    assert decode_cursor(encode_cursor("-created_at", when, item), "-created_at") == (when, item)
    assert decode_cursor(encode_cursor("name", "ledger", item), "name") == ("ledger", item)
    for token, sort in ((encode_cursor("name", "x", item), "-name"), ("!!!", "name"), ("e30", "name"),
                        (encode_cursor("created_at", "not a date", item), "created_at")):
        with pytest.raises(ValidationFailed) as bad:
            decode_cursor(token, sort)
        assert bad.value.code == "invalid_cursor"
