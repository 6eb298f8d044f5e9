"""Public routes: /api/v2/... forwarded to the owning service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.adapters.upstreams import UPSTREAMS


def _forward(service: str, template: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        path = template.format(**request.match_info)
        return await request.app[UPSTREAMS].forward(request, service, path)

    return handler


ROUTES = [
    ("POST", "/api/v2/projects", "projects", "/v1/projects"),
    ("GET", "/api/v2/projects/{project_id}", "projects", "/v1/projects/{project_id}"),
    ("POST", "/api/v2/projects/{project_id}/jobs", "projects", "/v1/projects/{project_id}/jobs"),
    ("GET", "/api/v2/jobs/{job_id}", "projects", "/v1/jobs/{job_id}"),
    ("GET", "/api/v2/jobs/{job_id}/results", "results", "/v1/jobs/{job_id}/results"),
    ("GET", "/api/v2/files/{file_id}", "files", "/v1/files/{file_id}"),
]


def setup_routes(app: web.Application) -> None:
    for method, public, service, internal in ROUTES:
        app.router.add_route(method, public, _forward(service, internal))
