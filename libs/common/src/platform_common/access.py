"""Who may do what, inside a domain service: the caller's identity comes from the gateway's signed internal
token (never a bare header), and the caller's project role from the projects service, briefly cached."""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Protocol

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler
from opentelemetry import propagate

from platform_common.auth import Identity, InternalTokens, InvalidToken, ServiceAuthSettings, resolve_secret
from platform_common.contracts.projects import Role
from platform_common.errors import DependencyUnavailable, DomainError, Forbidden, NotFound, Unauthorized
from platform_common.http import REQUEST_ID, REQUEST_ID_HEADER, SERVICE_NAME
from platform_common.metrics import AUTH_FAILURES, AUTHZ_DENIALS
from platform_common.settings import Environment

log = logging.getLogger(__name__)

INTERNAL_TOKENS = web.AppKey("internal_tokens", InternalTokens)
IDENTITY = web.RequestKey("identity", Identity)
BEARER_TOKEN = web.RequestKey("bearer_token", str)
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
NO_ACCESS = "You don't have access to this project"


def bearer_token(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer ...` header, if the request has one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


@web.middleware
async def internal_identity_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every route but the operational ones requires a valid internal identity token."""
    if request.path in OPEN_PATHS:
        return await handler(request)
    token = bearer_token(request)
    if token is None:
        AUTH_FAILURES.labels("internal_missing").inc()
        raise Unauthorized("Authentication is required.", code="unauthenticated")
    try:
        request[IDENTITY] = request.app[INTERNAL_TOKENS].verify(token)
    except InvalidToken as error:
        AUTH_FAILURES.labels(f"internal_{error.reason}").inc()
        raise Unauthorized("The identity token is not valid.", code="invalid_token") from None
    request[BEARER_TOKEN] = token
    return await handler(request)


def identity_of(request: web.Request) -> Identity:
    """The authenticated caller (the middleware guarantees one on every non-operational route)."""
    if IDENTITY not in request:
        raise Unauthorized("Authentication is required.", code="unauthenticated")
    return request[IDENTITY]


class ProjectRoles(Protocol):
    async def role_of(self, request: web.Request, project_id: uuid.UUID) -> Role | None:
        """The caller's role in the project, None if they are not a member (or it does not exist)."""


class FixedProjectRoles:
    """Roles by (user id, project id): a stand-in for the projects service in a service's own tests.
    Set `app[PROJECT_ACCESS]` to one before the app starts and the real client is not created."""

    def __init__(self, roles: Mapping[tuple[uuid.UUID, uuid.UUID], Role]) -> None:
        self.roles = dict(roles)

    async def role_of(self, request: web.Request, project_id: uuid.UUID) -> Role | None:
        return self.roles.get((identity_of(request).user_id, project_id))


class ProjectAccessClient:
    """Asks the projects service for the caller's role, caching answers for a few seconds per (user, project).

    The short TTL bounds how long a removed member keeps read access in this service; writes that matter
    (membership changes) are enforced by projects itself, immediately.
    """

    def __init__(self, session: aiohttp.ClientSession, settings: ServiceAuthSettings, *,
                 clock: Callable[[], float] = time.monotonic, cache_size: int = 10_000) -> None:
        self._session = session
        self._base = str(settings.projects_url).rstrip("/")
        self._ttl_s = settings.access_cache_ttl_s
        self._timeout = aiohttp.ClientTimeout(total=settings.access_timeout_s)
        self._clock = clock
        self._cache_size = cache_size
        self._cache: OrderedDict[tuple[uuid.UUID, uuid.UUID], tuple[Role | None, float]] = OrderedDict()

    async def role_of(self, request: web.Request, project_id: uuid.UUID) -> Role | None:
        identity = identity_of(request)
        key = (identity.user_id, project_id)
        cached = self._cache.get(key)
        if cached is not None and cached[1] > self._clock():
            return cached[0]
        role = await self._fetch(request, project_id)
        self._cache[key] = (role, self._clock() + self._ttl_s)
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return role

    async def _fetch(self, request: web.Request, project_id: uuid.UUID) -> Role | None:
        headers = {"Authorization": f"Bearer {request[BEARER_TOKEN]}",
                   REQUEST_ID_HEADER: request.get(REQUEST_ID, "")}
        propagate.inject(headers)
        url = f"{self._base}/v1/projects/{project_id}/access"
        try:
            async with self._session.get(url, headers=headers, timeout=self._timeout) as response:
                if response.status == 404:
                    return None
                if response.status != 200:
                    log.warning("project access check answered %s", response.status)
                    raise DependencyUnavailable("The projects service could not confirm access.",
                                                code="upstream_unavailable", service="projects")
                body = await response.json()
                return Role(body["role"])
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as error:
            raise DependencyUnavailable("The projects service could not confirm access.",
                                        code="upstream_unavailable", service="projects") from error


PROJECT_ACCESS: web.AppKey[ProjectRoles] = web.AppKey("project_access")


async def require_project_role(request: web.Request, project_id: uuid.UUID, minimum: Role, *,
                               not_found: DomainError) -> Role:
    """The caller's role if it is at least `minimum`; a non-member gets `not_found` (no existence leak)."""
    role = await request.app[PROJECT_ACCESS].role_of(request, project_id)
    if role is None:
        AUTHZ_DENIALS.labels(request.app[SERVICE_NAME]).inc()
        raise not_found
    if not role.at_least(minimum):
        AUTHZ_DENIALS.labels(request.app[SERVICE_NAME]).inc()
        raise Forbidden(NO_ACCESS, code="project_forbidden")
    return role


_READS = frozenset({"GET", "HEAD"})


@web.middleware
async def project_scope_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """On every route with a {project_id}: members may read, editors and owners may write."""
    raw = request.match_info.get("project_id") if request.match_info is not None else None
    if raw is not None:
        try:
            project_id = uuid.UUID(raw)
        except ValueError:
            raise NotFound("The project was not found.", code="project_not_found") from None
        minimum = Role.VIEWER if request.method in _READS else Role.EDITOR
        await require_project_role(request, project_id, minimum,
                                   not_found=NotFound("The project was not found.", code="project_not_found"))
    return await handler(request)


def _project_access_ctx(settings: ServiceAuthSettings) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        if PROJECT_ACCESS in app:  # a test put a stand-in there
            yield
            return
        connector = aiohttp.TCPConnector(limit=100, keepalive_timeout=30)
        async with aiohttp.ClientSession(connector=connector) as session:
            app[PROJECT_ACCESS] = ProjectAccessClient(session, settings)
            yield

    return context


def install_service_auth(app: web.Application, settings: ServiceAuthSettings, *, environment: Environment,
                         setting_name: str, project_access: bool = True) -> None:
    """Require the gateway's identity token on every route. With `project_access` (services whose data
    belongs to projects kept elsewhere), also check the caller's role on every {project_id} route and wire
    `require_project_role` for routes that find the project only in the resource they load.

    Fails with one line naming `setting_name` when the shared key is missing outside dev mode.
    """
    key = resolve_secret(settings.internal_key, environment=environment, setting_name=setting_name)
    app[INTERNAL_TOKENS] = InternalTokens(key, ttl_s=settings.internal_token_ttl_s)
    app.middlewares.append(internal_identity_middleware)
    if project_access:
        app.middlewares.append(project_scope_middleware)
        app.cleanup_ctx.append(_project_access_ctx(settings))
