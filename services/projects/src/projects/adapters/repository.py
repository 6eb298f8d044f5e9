"""SQL for projects and memberships; with jobs_repository.py, the only SQL of the projects schema."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from platform_common.contracts.projects import (
    MemberView,
    ProjectCounts,
    ProjectListQuery,
    ProjectStatus,
    ProjectView,
    Role,
)
from projects.domain.model import Membership

# Sort key expression, direction and the SQL type a cursor value is cast to.
_SORTS: dict[str, tuple[str, str, str]] = {
    "name": ("lower(p.name)", "ASC", "text"),
    "-name": ("lower(p.name)", "DESC", "text"),
    "created_at": ("p.created_at", "ASC", "timestamptz"),
    "-created_at": ("p.created_at", "DESC", "timestamptz"),
    "updated_at": ("p.updated_at", "ASC", "timestamptz"),
    "-updated_at": ("p.updated_at", "DESC", "timestamptz"),
}
# Counts as correlated subqueries on indexed keys: one statement for a whole page, however long (no N+1).
_PROJECT_SELECT = (
    "SELECT p.id, p.name, p.description, p.status, p.created_at, p.updated_at, p.archived_at, m.role, "
    "{sort_key} AS sort_key, "
    "(SELECT count(*) FROM memberships c WHERE c.project_id = p.id) AS members, "
    "(SELECT count(*) FROM data_sources d WHERE d.project_id = p.id) AS data_sources, "
    "(SELECT count(*) FROM jobs j WHERE j.project_id = p.id) AS jobs "
    "FROM memberships m JOIN projects p ON p.id = m.project_id "
)


def _like_pattern(text: str) -> str:
    """A substring ILIKE pattern matching `text` literally (its % and _ are escaped)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def project_view(row: asyncpg.Record) -> ProjectView:
    return ProjectView(id=row["id"], name=row["name"], description=row["description"], status=row["status"],
                       role=row["role"], created_at=row["created_at"], updated_at=row["updated_at"],
                       archived_at=row["archived_at"],
                       counts=ProjectCounts(members=row["members"], data_sources=row["data_sources"],
                                            jobs=row["jobs"]))


class PgProjectRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add_project(self, project_id: uuid.UUID, name: str, description: str, owner: uuid.UUID,
                          owner_email: str) -> None:
        await self._conn.execute(
            "INSERT INTO projects (id, name, description, created_by) VALUES ($1, $2, $3, $4)",
            project_id, name, description, owner,
        )
        await self.add_member(project_id, owner, owner_email, Role.OWNER, added_by=owner)

    async def view(self, project_id: uuid.UUID, user_id: uuid.UUID) -> ProjectView | None:
        """The project as `user_id` sees it (role and counts included); None unless they are a member."""
        row = await self._conn.fetchrow(
            _PROJECT_SELECT.format(sort_key="p.id") + "WHERE m.project_id = $1 AND m.user_id = $2",
            project_id, user_id,
        )
        return project_view(row) if row else None

    async def page(self, user_id: uuid.UUID, query: ProjectListQuery,
                   after: tuple[Any, uuid.UUID] | None) -> list[asyncpg.Record]:
        """Up to `query.limit + 1` rows (the extra one says whether another page exists)."""
        key, direction, cast = _SORTS[query.sort]
        args: list[Any] = [user_id]
        where = ["m.user_id = $1"]
        if query.q:
            args.append(_like_pattern(query.q))
            where.append(f"p.name ILIKE ${len(args)} ESCAPE '\\'")
        if query.status != "all":
            args.append(query.status)
            where.append(f"p.status = ${len(args)}")
        if query.role is not None:
            args.append(query.role.value)
            where.append(f"m.role = ${len(args)}")
        if after is not None:
            args.extend(after)
            comparison = ">" if direction == "ASC" else "<"
            where.append(f"({key}, p.id) {comparison} (${len(args) - 1}::{cast}, ${len(args)}::uuid)")
        args.append(query.limit + 1)
        sql = (_PROJECT_SELECT.format(sort_key=key) + "WHERE " + " AND ".join(where)
               + f" ORDER BY {key} {direction}, p.id {direction} LIMIT ${len(args)}")
        rows: list[asyncpg.Record] = await self._conn.fetch(sql, *args)
        return rows

    async def membership(self, project_id: uuid.UUID, user_id: uuid.UUID, *, lock: str | None = None
                         ) -> Membership | None:
        """The caller's role and the project's status; `lock` ('share' or 'update') locks the project row
        for the rest of the transaction, so writes see and keep a consistent membership."""
        suffix = {"share": " FOR SHARE OF p", "update": " FOR UPDATE OF p", None: ""}[lock]
        row = await self._conn.fetchrow(
            "SELECT m.role, p.status FROM projects p JOIN memberships m ON m.project_id = p.id "
            "WHERE p.id = $1 AND m.user_id = $2" + suffix, project_id, user_id,
        )
        if row is None:
            return None
        return Membership(project_id, user_id, Role(row["role"]), ProjectStatus(row["status"]))

    async def role(self, project_id: uuid.UUID, user_id: uuid.UUID) -> Role | None:
        value = await self._conn.fetchval(
            "SELECT role FROM memberships WHERE project_id = $1 AND user_id = $2", project_id, user_id
        )
        return Role(value) if value else None

    async def update(self, project_id: uuid.UUID, name: str | None, description: str | None) -> None:
        await self._conn.execute(
            "UPDATE projects SET name = coalesce($2, name), description = coalesce($3, description), "
            "updated_at = now() WHERE id = $1", project_id, name, description,
        )

    async def set_status(self, project_id: uuid.UUID, status: ProjectStatus) -> None:
        await self._conn.execute(
            "UPDATE projects SET status = $2, updated_at = now(), "
            "archived_at = CASE WHEN $2 = 'archived' THEN coalesce(archived_at, now()) END WHERE id = $1",
            project_id, status.value,
        )

    async def touch(self, project_id: uuid.UUID) -> None:
        await self._conn.execute("UPDATE projects SET updated_at = now() WHERE id = $1", project_id)

    async def member_ids(self, project_id: uuid.UUID) -> list[uuid.UUID]:
        rows = await self._conn.fetch("SELECT user_id FROM memberships WHERE project_id = $1", project_id)
        return [row["user_id"] for row in rows]

    async def members(self, project_id: uuid.UUID) -> list[MemberView]:
        rows = await self._conn.fetch(
            "SELECT user_id, email, role, added_at FROM memberships WHERE project_id = $1 "
            "ORDER BY CASE role WHEN 'owner' THEN 0 WHEN 'editor' THEN 1 ELSE 2 END, lower(email), user_id",
            project_id,
        )
        return [MemberView.model_validate(dict(row)) for row in rows]

    async def member(self, project_id: uuid.UUID, user_id: uuid.UUID) -> MemberView | None:
        row = await self._conn.fetchrow(
            "SELECT user_id, email, role, added_at FROM memberships WHERE project_id = $1 AND user_id = $2",
            project_id, user_id,
        )
        return MemberView.model_validate(dict(row)) if row else None

    async def add_member(self, project_id: uuid.UUID, user_id: uuid.UUID, email: str, role: Role, *,
                         added_by: uuid.UUID) -> bool:
        inserted = await self._conn.fetchval(
            "INSERT INTO memberships (project_id, user_id, email, role, added_by) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT DO NOTHING RETURNING true", project_id, user_id, email, role.value, added_by,
        )
        return bool(inserted)

    async def set_role(self, project_id: uuid.UUID, user_id: uuid.UUID, role: Role) -> None:
        await self._conn.execute(
            "UPDATE memberships SET role = $3 WHERE project_id = $1 AND user_id = $2", project_id, user_id, role.value
        )

    async def remove_member(self, project_id: uuid.UUID, user_id: uuid.UUID) -> None:
        await self._conn.execute("DELETE FROM memberships WHERE project_id = $1 AND user_id = $2", project_id, user_id)

    async def owner_count(self, project_id: uuid.UUID) -> int:
        count: int = await self._conn.fetchval(
            "SELECT count(*) FROM memberships WHERE project_id = $1 AND role = 'owner'", project_id
        )
        return count
