"""HTTP routes of the projects service (internal API behind the gateway)."""

from __future__ import annotations

import uuid

from aiohttp import web

from platform_common.errors import NotFound
from platform_common.keys import PG_POOL
from projects.domain.model import NewJob, NewProject
from projects.service_layer import handlers


def _uuid(request: web.Request, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise NotFound("The resource was not found.") from None


async def create_project(request: web.Request) -> web.Response:
    command = NewProject.model_validate_json(await request.read())
    project = await handlers.create_project(request.app[PG_POOL], command)
    return web.json_response(project.model_dump(mode="json"), status=201)


async def get_project(request: web.Request) -> web.Response:
    project = await handlers.get_project(request.app[PG_POOL], _uuid(request, "project_id"))
    return web.json_response(project.model_dump(mode="json"))


async def start_job(request: web.Request) -> web.Response:
    command = NewJob.model_validate_json(await request.read())
    job = await handlers.start_job(request.app[PG_POOL], _uuid(request, "project_id"), command)
    return web.json_response(job.model_dump(mode="json"), status=201)


async def get_job(request: web.Request) -> web.Response:
    job = await handlers.get_job(request.app[PG_POOL], _uuid(request, "job_id"))
    return web.json_response(job.model_dump(mode="json"))


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/v1/projects", create_project)
    app.router.add_get("/v1/projects/{project_id}", get_project)
    app.router.add_post("/v1/projects/{project_id}/jobs", start_job)
    app.router.add_get("/v1/jobs/{job_id}", get_job)
