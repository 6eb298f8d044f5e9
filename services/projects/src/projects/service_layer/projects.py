"""Project use cases: create, list, read, update, archive, restore; and the role check other services ask."""

from __future__ import annotations

import hashlib
import uuid

from platform_common.auth import Identity
from platform_common.contracts.projects import (
    ProjectAccess,
    ProjectCreate,
    ProjectListQuery,
    ProjectPage,
    ProjectStatus,
    ProjectUpdate,
    ProjectView,
)
from projects.adapters.repository import PgProjectRepository, project_view
from projects.domain.cursor import decode_cursor, encode_cursor
from projects.domain.permissions import Action, ensure_changeable, project_not_found
from projects.service_layer.deps import PROJECT_LIST, Deps, cached_role, checked, project_tag, user_tag, user_tags


async def create_project(deps: Deps, caller: Identity, command: ProjectCreate) -> ProjectView:
    project_id = uuid.uuid4()
    async with deps.pool.acquire() as conn, conn.transaction():
        repo = PgProjectRepository(conn)
        await repo.add_project(project_id, command.name, command.description, caller.user_id, caller.email)
        view = await repo.view(project_id, caller.user_id)
    await deps.cache.invalidate(user_tag(caller.user_id), project_tag(project_id))
    assert view is not None
    return view


async def list_projects(deps: Deps, caller: Identity, query: ProjectListQuery) -> bytes:
    """One page of the caller's projects as JSON, from the cache when it can be."""
    after = decode_cursor(query.cursor, query.sort) if query.cursor else None
    variant = hashlib.sha256(query.model_dump_json().encode()).hexdigest()[:24]

    async def load() -> bytes:
        async with deps.pool.acquire() as conn:
            rows = await PgProjectRepository(conn).page(caller.user_id, query, after)
        items = rows[:query.limit]
        next_cursor = (encode_cursor(query.sort, items[-1]["sort_key"], items[-1]["id"])
                       if len(rows) > query.limit else None)
        page = ProjectPage(items=[project_view(row) for row in items], next_cursor=next_cursor)
        return page.model_dump_json().encode()

    return await deps.cache.get_or_load(PROJECT_LIST, f"{caller.user_id}:{variant}", load,
                                        tags=[user_tag(caller.user_id)])


async def get_project(deps: Deps, caller: Identity, project_id: uuid.UUID) -> ProjectView:
    async with deps.pool.acquire() as conn:
        view = await PgProjectRepository(conn).view(project_id, caller.user_id)
    checked(view.role if view else None, Action.VIEW)
    assert view is not None
    return view


async def update_project(deps: Deps, caller: Identity, project_id: uuid.UUID, command: ProjectUpdate
                         ) -> ProjectView:
    async with deps.pool.acquire() as conn, conn.transaction():
        repo = PgProjectRepository(conn)
        membership = await repo.membership(project_id, caller.user_id, lock="update")
        checked(membership.role if membership else None, Action.EDIT)
        assert membership is not None
        ensure_changeable(membership.status, Action.EDIT)
        await repo.update(project_id, command.name, command.description)
        view = await repo.view(project_id, caller.user_id)
        members = await repo.member_ids(project_id)
    await deps.cache.invalidate(*user_tags(members))
    assert view is not None
    return view


async def set_status(deps: Deps, caller: Identity, project_id: uuid.UUID, status: ProjectStatus) -> ProjectView:
    """Archive or restore (owners only); doing it twice changes nothing."""
    async with deps.pool.acquire() as conn, conn.transaction():
        repo = PgProjectRepository(conn)
        membership = await repo.membership(project_id, caller.user_id, lock="update")
        checked(membership.role if membership else None, Action.ARCHIVE)
        assert membership is not None
        if membership.status is not status:
            await repo.set_status(project_id, status)
        view = await repo.view(project_id, caller.user_id)
        members = await repo.member_ids(project_id)
    await deps.cache.invalidate(*user_tags(members))
    assert view is not None
    return view


async def access(deps: Deps, caller: Identity, project_id: uuid.UUID) -> ProjectAccess:
    """The caller's role, for services that keep project data elsewhere (files, results)."""
    role = await cached_role(deps, project_id, caller.user_id)
    if role is None:
        raise project_not_found()
    return ProjectAccess(project_id=project_id, role=role)
