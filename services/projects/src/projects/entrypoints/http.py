"""HTTP routes of the projects service (internal API behind the gateway). Every route knows its caller
from the gateway's signed identity token and checks their role on the project."""

from __future__ import annotations

from aiohttp import web

from platform_common.access import identity_of
from platform_common.contracts.projects import (
    DataSourceCreate,
    JobCreate,
    JobListQuery,
    MemberGrant,
    MemberRoleChange,
    ProjectCreate,
    ProjectListQuery,
    ProjectStatus,
    ProjectUpdate,
)
from platform_common.i18n import parse_json_body, parse_query
from projects.entrypoints.keys import DEPS
from projects.entrypoints.requests import json_response, path_uuid, raw_json
from projects.service_layer import jobs, members, projects


async def list_projects(request: web.Request) -> web.Response:
    query = parse_query(request, ProjectListQuery)
    return raw_json(await projects.list_projects(request.app[DEPS], identity_of(request), query))


async def create_project(request: web.Request) -> web.Response:
    command = await parse_json_body(request, ProjectCreate)
    return json_response(await projects.create_project(request.app[DEPS], identity_of(request), command), 201)


async def get_project(request: web.Request) -> web.Response:
    project_id = path_uuid(request, "project_id")
    return json_response(await projects.get_project(request.app[DEPS], identity_of(request), project_id))


async def update_project(request: web.Request) -> web.Response:
    project_id = path_uuid(request, "project_id")
    command = await parse_json_body(request, ProjectUpdate)
    return json_response(await projects.update_project(request.app[DEPS], identity_of(request), project_id, command))


async def archive_project(request: web.Request) -> web.Response:
    project_id = path_uuid(request, "project_id")
    view = await projects.set_status(request.app[DEPS], identity_of(request), project_id, ProjectStatus.ARCHIVED)
    return json_response(view)


async def restore_project(request: web.Request) -> web.Response:
    project_id = path_uuid(request, "project_id")
    view = await projects.set_status(request.app[DEPS], identity_of(request), project_id, ProjectStatus.ACTIVE)
    return json_response(view)


async def project_access(request: web.Request) -> web.Response:
    project_id = path_uuid(request, "project_id")
    return json_response(await projects.access(request.app[DEPS], identity_of(request), project_id))


async def list_members(request: web.Request) -> web.Response:
    project_id = path_uuid(request, "project_id")
    return json_response(await members.list_members(request.app[DEPS], identity_of(request), project_id))


async def add_member(request: web.Request) -> web.Response:
    project_id = path_uuid(request, "project_id")
    grant = await parse_json_body(request, MemberGrant)
    return json_response(await members.add_member(request.app[DEPS], identity_of(request), project_id, grant), 201)


async def change_member_role(request: web.Request) -> web.Response:
    project_id, user_id = path_uuid(request, "project_id"), path_uuid(request, "user_id")
    change = await parse_json_body(request, MemberRoleChange)
    view = await members.change_role(request.app[DEPS], identity_of(request), project_id, user_id, change)
    return json_response(view)


async def remove_member(request: web.Request) -> web.Response:
    project_id, user_id = path_uuid(request, "project_id"), path_uuid(request, "user_id")
    await members.remove_member(request.app[DEPS], identity_of(request), project_id, user_id)
    return web.Response(status=204)


async def list_data_sources(request: web.Request) -> web.Response:
    project_id = path_uuid(request, "project_id")
    return json_response(await jobs.list_data_sources(request.app[DEPS], identity_of(request), project_id))


async def create_data_source(request: web.Request) -> web.Response:
    project_id = path_uuid(request, "project_id")
    command = await parse_json_body(request, DataSourceCreate)
    source = await jobs.create_data_source(request.app[DEPS], identity_of(request), project_id, command)
    return json_response(source, 201)


async def get_data_source(request: web.Request) -> web.Response:
    project_id, source_id = path_uuid(request, "project_id"), path_uuid(request, "data_source_id")
    return json_response(await jobs.get_data_source(request.app[DEPS], identity_of(request), project_id, source_id))


async def list_jobs(request: web.Request) -> web.Response:
    project_id = path_uuid(request, "project_id")
    query = parse_query(request, JobListQuery)
    return json_response(await jobs.list_jobs(request.app[DEPS], identity_of(request), project_id, query))


async def start_job(request: web.Request) -> web.Response:
    project_id = path_uuid(request, "project_id")
    command = await parse_json_body(request, JobCreate)
    return json_response(await jobs.start_job(request.app[DEPS], identity_of(request), project_id, command), 201)


async def get_job(request: web.Request) -> web.Response:
    job_id = path_uuid(request, "job_id")
    return raw_json(await jobs.job_status(request.app[DEPS], identity_of(request), job_id))


def setup_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/v1/projects", list_projects)
    router.add_post("/v1/projects", create_project)
    router.add_get("/v1/projects/{project_id}", get_project)
    router.add_patch("/v1/projects/{project_id}", update_project)
    router.add_post("/v1/projects/{project_id}/archive", archive_project)
    router.add_post("/v1/projects/{project_id}/restore", restore_project)
    router.add_get("/v1/projects/{project_id}/access", project_access)
    router.add_get("/v1/projects/{project_id}/members", list_members)
    router.add_post("/v1/projects/{project_id}/members", add_member)
    router.add_patch("/v1/projects/{project_id}/members/{user_id}", change_member_role)
    router.add_delete("/v1/projects/{project_id}/members/{user_id}", remove_member)
    router.add_get("/v1/projects/{project_id}/data-sources", list_data_sources)
    router.add_post("/v1/projects/{project_id}/data-sources", create_data_source)
    router.add_get("/v1/projects/{project_id}/data-sources/{data_source_id}", get_data_source)
    router.add_get("/v1/projects/{project_id}/jobs", list_jobs)
    router.add_post("/v1/projects/{project_id}/jobs", start_job)
    router.add_get("/v1/jobs/{job_id}", get_job)
