"""The projects service's data sources, asked on behalf of the caller (their identity token is forwarded, so
projects applies its own membership and role rules)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from opentelemetry import propagate

from platform_common.errors import DependencyUnavailable, Forbidden, NotFound, ValidationFailed


@dataclass(frozen=True)
class DataSourceRef:
    id: uuid.UUID
    project_id: uuid.UUID
    name: str


class ProjectsClient:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, *, timeout_s: float = 5.0) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    def for_caller(self, token: str) -> CallerDirectory:
        return CallerDirectory(self, token)

    async def request(self, method: str, path: str, token: str, *,
                      json: dict[str, Any] | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        propagate.inject(headers)
        try:
            async with self._session.request(method, f"{self._base}{path}", json=json, headers=headers,
                                             timeout=self._timeout) as response:
                body = await response.json(content_type=None) if response.content_length != 0 else None
                return response.status, body
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise DependencyUnavailable("The projects service did not answer.", code="upstream_unavailable",
                                        service="projects") from error


def _ref(body: dict[str, Any]) -> DataSourceRef:
    return DataSourceRef(id=uuid.UUID(body["id"]), project_id=uuid.UUID(body["project_id"]), name=body["name"])


class CallerDirectory:
    """Data sources as the calling user may see and create them."""

    def __init__(self, client: ProjectsClient, token: str) -> None:
        self._client = client
        self._token = token

    async def find(self, project_id: uuid.UUID, data_source_id: uuid.UUID) -> DataSourceRef | None:
        status, body = await self._client.request(
            "GET", f"/v1/projects/{project_id}/data-sources/{data_source_id}", self._token)
        if status == 404:
            return None
        _expect(status, 200, body)
        return _ref(body)

    async def create(self, project_id: uuid.UUID, name: str) -> DataSourceRef:
        """The data source of that name, created if the project has none yet."""
        status, body = await self._client.request(
            "POST", f"/v1/projects/{project_id}/data-sources", self._token, json={"name": name})
        if status == 409:
            existing = await self._by_name(project_id, name)
            if existing is not None:
                return existing
        _expect(status, 201, body)
        return _ref(body)

    async def _by_name(self, project_id: uuid.UUID, name: str) -> DataSourceRef | None:
        status, body = await self._client.request("GET", f"/v1/projects/{project_id}/data-sources", self._token)
        _expect(status, 200, body)
        return next((_ref(item) for item in body["items"] if item["name"] == name), None)


def _expect(status: int, wanted: int, body: Any) -> None:
    if status == wanted:
        return
    code = body.get("code") if isinstance(body, dict) else None
    detail = body.get("detail") if isinstance(body, dict) else None
    if status == 404:
        raise NotFound(detail or "The project was not found.", code=code or "project_not_found")
    if status == 403:
        raise Forbidden(detail or "You don't have access to this project", code=code or "project_forbidden")
    if status == 422:
        raise ValidationFailed(detail or "The data source is not valid.", code=code or "validation_failed",
                               errors=body.get("errors", []) if isinstance(body, dict) else [])
    raise DependencyUnavailable("The projects service could not handle the data source.",
                                code="upstream_unavailable", service="projects")


def projects_client_ctx(base_url: str, key: web.AppKey[ProjectsClient], *,
                        timeout_s: float) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50)) as session:
            app[key] = ProjectsClient(session, base_url, timeout_s=timeout_s)
            yield

    return context
