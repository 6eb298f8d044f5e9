"""HTTP routes of the files service (internal; the gateway exposes them under /api/v2 and adds authorisation).

Every project-scoped route carries {project_id} in its path so the gateway can check membership before
forwarding; the resource is then looked up within that project only.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from files.entrypoints import uploads
from files.entrypoints.multipart import validated_mapping, validated_options
from files.entrypoints.responses import (
    all_in_callers_language,
    directory,
    in_callers_language,
    json_response,
    path_uuid,
)
from files.service_layer import data_sources, handlers
from platform_common.access import require_project_role
from platform_common.contracts.projects import Role
from platform_common.errors import NotFound, ValidationFailed
from platform_common.keys import PG_POOL

MAX_ERRORS_PAGE = 1000


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except json.JSONDecodeError:
        raise ValidationFailed("The body must be JSON.", code="json_invalid") from None


class MappingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mapping: dict[str, Any]
    parse_options: dict[str, Any] = Field(default_factory=dict)


async def get_mapping(request: web.Request) -> web.Response:
    project_id = path_uuid(request, "project_id", code="project_not_found")
    data_source_id = path_uuid(request, "data_source_id", code="data_source_not_found")
    found = await data_sources.template(request.app[PG_POOL], directory(request), project_id, data_source_id)
    return json_response(found)


async def put_mapping(request: web.Request) -> web.Response:
    project_id = path_uuid(request, "project_id", code="project_not_found")
    data_source_id = path_uuid(request, "data_source_id", code="data_source_not_found")
    body = MappingIn.model_validate(await _json_body(request))
    mapping = validated_mapping(body.mapping)
    assert mapping is not None
    saved = await data_sources.save_template(request.app[PG_POOL], directory(request), project_id, data_source_id,
                                             mapping=mapping, parse_options=validated_options(body.parse_options) or {})
    return json_response(saved)


async def list_datasets(request: web.Request) -> web.Response:
    project_id = path_uuid(request, "project_id", code="project_not_found")
    data_source_id = path_uuid(request, "data_source_id", code="data_source_not_found")
    items = await handlers.list_datasets(request.app[PG_POOL], project_id, data_source_id)
    return json_response({"items": [_dataset_in_callers_language(request, item) for item in items]})


async def get_file(request: web.Request) -> web.Response:
    file_id = path_uuid(request, "file_id", code="file_not_found")
    found = await handlers.get_file(request.app[PG_POOL], file_id)
    _same_project(request, found)
    await _visible(request, found, NotFound("The file was not found.", code="file_not_found"))
    if found["problem"] is not None:
        found = {**found, "problem": in_callers_language(request, found["problem"])}
    return json_response(found)


async def get_dataset(request: web.Request) -> web.Response:
    dataset_id = path_uuid(request, "dataset_id", code="dataset_not_found")
    found = await handlers.get_dataset(request.app[PG_POOL], dataset_id)
    _same_project(request, found)
    await _visible(request, found, NotFound("The dataset was not found.", code="dataset_not_found"))
    return json_response(_dataset_in_callers_language(request, found))


async def get_dataset_errors(request: web.Request) -> web.Response:
    dataset_id = path_uuid(request, "dataset_id", code="dataset_not_found")
    try:
        after = int(request.query.get("after", "0"))
        limit = min(MAX_ERRORS_PAGE, max(1, int(request.query.get("limit", "100"))))
    except ValueError:
        raise ValidationFailed("after and limit must be whole numbers.", code="query_invalid") from None
    dataset = await handlers.get_dataset(request.app[PG_POOL], dataset_id)
    _same_project(request, dataset)
    await _visible(request, dataset, NotFound("The dataset was not found.", code="dataset_not_found"))
    report = await handlers.dataset_errors(request.app[PG_POOL], dataset_id, after_seq=after, limit=limit)
    return json_response({**report, "problems": all_in_callers_language(request, report["problems"]),
                          "errors": all_in_callers_language(request, report["errors"])})


def _dataset_in_callers_language(request: web.Request, dataset: dict[str, Any]) -> dict[str, Any]:
    return {**dataset, "problems": all_in_callers_language(request, dataset["problems"])}


async def _visible(request: web.Request, resource: dict[str, Any], not_found: NotFound) -> None:
    """Routes without {project_id} (the middleware checks those): the caller must be a member of the
    resource's project, and a non-member is told it does not exist."""
    if "project_id" not in request.match_info:
        await require_project_role(request, resource["project_id"], Role.VIEWER, not_found=not_found)


def _same_project(request: web.Request, resource: dict[str, Any]) -> None:
    """On project-scoped routes, a resource of another project does not exist."""
    if "project_id" in request.match_info:
        project_id = path_uuid(request, "project_id", code="project_not_found")
        if resource["project_id"] != project_id:
            raise NotFound("The resource was not found in this project.", code="not_found")


def setup_routes(app: web.Application) -> None:
    project = "/v1/projects/{project_id}"
    source = project + "/data-sources/{data_source_id}"
    app.router.add_get(source + "/mapping", get_mapping)
    app.router.add_put(source + "/mapping", put_mapping)
    app.router.add_get(source + "/datasets", list_datasets)
    app.router.add_post(source + "/files", uploads.upload_to_data_source)
    app.router.add_post(source + "/preview", uploads.preview_for_data_source)
    app.router.add_post(project + "/files", uploads.upload_to_project)
    app.router.add_post(project + "/preview", uploads.preview_for_project)
    app.router.add_get(project + "/files/{file_id}", get_file)
    app.router.add_get(project + "/datasets/{dataset_id}", get_dataset)
    app.router.add_get(project + "/datasets/{dataset_id}/errors", get_dataset_errors)
    app.router.add_get("/v1/files/{file_id}", get_file)
    app.router.add_get("/v1/datasets/{dataset_id}", get_dataset)
    app.router.add_get("/v1/datasets/{dataset_id}/errors", get_dataset_errors)
    app.router.add_post("/v1/files/upload", uploads.legacy_upload)
