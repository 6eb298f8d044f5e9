"""What the use cases need, and the cache vocabulary they share: key types, tags and lifetimes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg

from platform_common.cache import CachePolicy, TwoLevelCache
from platform_common.contracts.projects import Role
from platform_common.errors import DomainError
from platform_common.metrics import AUTHZ_DENIALS
from projects.adapters.repository import PgProjectRepository
from projects.config import SERVICE, CacheSettings
from projects.domain.permissions import Action, authorize

PROJECT_LIST = "project_list"
JOB_STATUS = "job_status"
MEMBERSHIP = "membership"


def cache_policies(settings: CacheSettings) -> dict[str, CachePolicy]:
    def policy(ttl_s: float) -> CachePolicy:
        return CachePolicy(ttl_s=ttl_s, l1_ttl_s=settings.l1_ttl_s, refresh_ahead=settings.refresh_ahead,
                           jitter=settings.jitter)

    return {PROJECT_LIST: policy(settings.project_list_ttl_s), JOB_STATUS: policy(settings.job_status_ttl_s),
            MEMBERSHIP: policy(settings.membership_ttl_s)}


def user_tag(user_id: uuid.UUID) -> str:
    """Everything listed for one user (their project lists)."""
    return f"user:{user_id}"


def project_tag(project_id: uuid.UUID) -> str:
    """Everything about one project's membership."""
    return f"project:{project_id}"


def job_tag(job_id: uuid.UUID) -> str:
    return f"job:{job_id}"


def user_tags(user_ids: Iterable[uuid.UUID]) -> list[str]:
    return [user_tag(user_id) for user_id in user_ids]


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    cache: TwoLevelCache


async def cached_role(deps: Deps, project_id: uuid.UUID, user_id: uuid.UUID) -> Role | None:
    """The user's role from the cache (reads); writes re-read it in their own transaction."""

    async def load() -> bytes:
        async with deps.pool.acquire() as conn:
            role = await PgProjectRepository(conn).role(project_id, user_id)
        return json.dumps(role.value if role else None).encode()

    raw = await deps.cache.get_or_load(MEMBERSHIP, f"{project_id}:{user_id}", load, tags=[project_tag(project_id)])
    value = json.loads(raw)
    return Role(value) if value else None


def checked(role: Role | None, action: Action, *, not_found: DomainError | None = None) -> Role:
    """`authorize`, counting denials."""
    try:
        return authorize(role, action, not_found=not_found)
    except DomainError:
        AUTHZ_DENIALS.labels(SERVICE).inc()
        raise
