"""Membership use cases: list, add, change a role, remove (or leave). A project always keeps an owner."""

from __future__ import annotations

import uuid

from platform_common.auth import Identity
from platform_common.contracts.projects import MemberGrant, MemberList, MemberRoleChange, MemberView, Role
from platform_common.errors import Conflict, NotFound
from projects.adapters.repository import PgProjectRepository
from projects.domain.permissions import Action, ensure_an_owner_remains, ensure_changeable
from projects.service_layer.deps import Deps, cached_role, checked, project_tag, user_tags


def _member_not_found() -> NotFound:
    return NotFound("This person is not a member of the project.", code="member_not_found")


async def list_members(deps: Deps, caller: Identity, project_id: uuid.UUID) -> MemberList:
    checked(await cached_role(deps, project_id, caller.user_id), Action.VIEW)
    async with deps.pool.acquire() as conn:
        return MemberList(items=await PgProjectRepository(conn).members(project_id))


async def add_member(deps: Deps, caller: Identity, project_id: uuid.UUID, grant: MemberGrant) -> MemberView:
    async with deps.pool.acquire() as conn, conn.transaction():
        repo = PgProjectRepository(conn)
        membership = await repo.membership(project_id, caller.user_id, lock="update")
        checked(membership.role if membership else None, Action.MANAGE_MEMBERS)
        assert membership is not None
        ensure_changeable(membership.status, Action.MANAGE_MEMBERS)
        if not await repo.add_member(project_id, grant.user_id, grant.email, grant.role, added_by=caller.user_id):
            raise Conflict("This person is already a member of the project.", code="member_exists")
        await repo.touch(project_id)
        view = await repo.member(project_id, grant.user_id)
        members = await repo.member_ids(project_id)
    await deps.cache.invalidate(project_tag(project_id), *user_tags(members))
    assert view is not None
    return view


async def change_role(deps: Deps, caller: Identity, project_id: uuid.UUID, user_id: uuid.UUID,
                      change: MemberRoleChange) -> MemberView:
    async with deps.pool.acquire() as conn, conn.transaction():
        repo = PgProjectRepository(conn)
        membership = await repo.membership(project_id, caller.user_id, lock="update")
        checked(membership.role if membership else None, Action.MANAGE_MEMBERS)
        assert membership is not None
        ensure_changeable(membership.status, Action.MANAGE_MEMBERS)
        target = await repo.member(project_id, user_id)
        if target is None:
            raise _member_not_found()
        if target.role is Role.OWNER and change.role is not Role.OWNER:
            ensure_an_owner_remains(await repo.owner_count(project_id) - 1)
        await repo.set_role(project_id, user_id, change.role)
        view = await repo.member(project_id, user_id)
        members = await repo.member_ids(project_id)
    await deps.cache.invalidate(project_tag(project_id), *user_tags(members))
    assert view is not None
    return view


async def remove_member(deps: Deps, caller: Identity, project_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Owners remove anyone; every member may leave. The last owner can do neither to themselves."""
    async with deps.pool.acquire() as conn, conn.transaction():
        repo = PgProjectRepository(conn)
        membership = await repo.membership(project_id, caller.user_id, lock="update")
        leaving = user_id == caller.user_id
        checked(membership.role if membership else None, Action.VIEW if leaving else Action.MANAGE_MEMBERS)
        assert membership is not None
        if not leaving:
            ensure_changeable(membership.status, Action.MANAGE_MEMBERS)
        target = await repo.member(project_id, user_id)
        if target is None:
            raise _member_not_found()
        if target.role is Role.OWNER:
            ensure_an_owner_remains(await repo.owner_count(project_id) - 1)
        members = await repo.member_ids(project_id)
        await repo.remove_member(project_id, user_id)
        await repo.touch(project_id)
    await deps.cache.invalidate(project_tag(project_id), *user_tags(members))
