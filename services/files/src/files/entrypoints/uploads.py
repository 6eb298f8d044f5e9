"""Upload and preview routes (multipart), and the seed's deprecated POST /api/files/upload alias.

Upload answers 201 with the new file (status "received"), or 200 with `duplicate: true` and the file that
already holds the same bytes in the data source. `?wait=<seconds>` (at most 60) waits for ingestion: a
rejected file then answers 422 problem+json with the reason and the first row errors.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from files.config import SERVICE
from files.entrypoints.multipart import (
    bool_field,
    mapping_field,
    on_error_field,
    optional_uuid,
    options_field,
    receive_form,
)
from files.entrypoints.responses import (
    all_in_callers_language,
    directory,
    json_response,
    message_params,
    path_uuid,
    problem_with,
)
from files.keys import PARSERS, SCRATCH, SETTINGS, STORE
from files.metrics import UPLOADED_BYTES
from files.service_layer import data_sources, handlers
from files.service_layer.preview_worker import PreviewJob, preview_file
from files.service_layer.uploads import TERMINAL, UploadForm, UploadResult, register_upload, wait_for_outcome
from platform_common.access import IDENTITY, require_project_role
from platform_common.contracts.projects import Role
from platform_common.errors import DomainError, NotFound, ValidationFailed
from platform_common.keys import PG_POOL

MAX_WAIT_S = 60.0
LEGACY_WAIT_S = 30.0
ROW_ERRORS_IN_PROBLEM = 20


def _wait_seconds(request: web.Request, default: float) -> float:
    raw = request.query.get("wait")
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValidationFailed("wait must be a number of seconds.", code="query_invalid") from None
    return min(max(value, 0.0), MAX_WAIT_S)


def _user(request: web.Request) -> uuid.UUID | None:
    """The uploader, from the gateway's signed identity token (never from a bare header)."""
    identity = request.get(IDENTITY)
    return identity.user_id if identity is not None else None


async def _upload(request: web.Request, *, project_id: uuid.UUID | None, data_source_id: uuid.UUID | None,
                  wait_default: float, headers: dict[str, str] | None = None) -> web.Response:
    settings, store, pool = request.app[SETTINGS], request.app[STORE], request.app[PG_POOL]
    wait = _wait_seconds(request, wait_default)
    received = await receive_form(request, store, max_bytes=settings.storage.max_upload_bytes)
    UPLOADED_BYTES.labels(SERVICE).inc(received.staged.size_bytes)
    try:
        fields = received.fields
        project_id = project_id or optional_uuid(fields, "project_id")
        if project_id is None:
            raise ValidationFailed("project_id is required and must be a project id.", code="project_id_required",
                                   errors=[{"field": "project_id", "code": "missing", "message": "a project id"}])
        # The legacy route names its project in the form, so the check cannot happen before reading it.
        await require_project_role(request, project_id, Role.EDITOR,
                                   not_found=NotFound("The project was not found.", code="project_not_found"))
        form = UploadForm(
            project_id=project_id, filename=received.filename,
            data_source_id=data_source_id or optional_uuid(fields, "data_source_id"),
            data_source_name=(fields.get("data_source_name") or "").strip() or None,
            on_error=on_error_field(fields), mapping=mapping_field(fields), parse_options=options_field(fields),
            save_as_template=bool_field(fields, "save_as_template"), content_type=received.content_type,
            uploaded_by=_user(request))
    except BaseException:
        await store.discard(received.staged)
        raise
    result = await register_upload(pool, store, received.staged, form, directory=directory(request),
                                   topic=settings.topics.uploaded)
    file = result.file
    if wait > 0 and file["status"] not in TERMINAL:
        file = await wait_for_outcome(pool, file["id"], timeout_s=wait)
    if wait > 0 and file["status"] in ("rejected", "failed"):
        return await _rejection(request, file, headers)
    return _accepted(result, file, headers)


def _accepted(result: UploadResult, file: dict[str, Any], headers: dict[str, str] | None) -> web.Response:
    body = {**file, "duplicate": result.duplicate}
    location = {"Location": f"/v1/projects/{file['project_id']}/files/{file['id']}"}
    return json_response(body, status=200 if result.duplicate else 201, headers={**location, **(headers or {})})


async def _rejection(request: web.Request, file: dict[str, Any], headers: dict[str, str] | None) -> web.Response:
    problem = file["problem"] or {"code": "file_rejected", "message": "The file was rejected."}
    errors: list[dict[str, Any]] = []
    if file["dataset_id"] is not None:
        report = await handlers.dataset_errors(request.app[PG_POOL], file["dataset_id"], after_seq=0,
                                               limit=ROW_ERRORS_IN_PROBLEM)
        errors = all_in_callers_language(request, report["errors"])
    extra = {"file_id": file["id"], "dataset_id": file["dataset_id"], "error_count": file["error_count"] or 0,
             "column": problem.get("column"), "errors": errors}
    # A rejected file is the file's problem (422); a failed one is ours (500), and says so in its code.
    status, title = (422, "The file was rejected") if file["status"] == "rejected" else (500, "Ingestion failed")
    return problem_with(request, status=status, code=problem["code"], title=title,
                        detail=problem["message"], extra=extra, headers=headers, params=message_params(problem))


async def upload_to_data_source(request: web.Request) -> web.Response:
    return await _upload(request, project_id=path_uuid(request, "project_id", code="project_not_found"),
                         data_source_id=path_uuid(request, "data_source_id", code="data_source_not_found"),
                         wait_default=0.0)


async def upload_to_project(request: web.Request) -> web.Response:
    """POST /v1/projects/{id}/files: the data source comes from the form (data_source_id, or data_source_name,
    which creates the source on its first upload)."""
    return await _upload(request, project_id=path_uuid(request, "project_id", code="project_not_found"),
                         data_source_id=None, wait_default=0.0)


def deprecation_headers(request: web.Request, project_id: uuid.UUID | None) -> dict[str, str]:
    sunset = datetime.combine(request.app[SETTINGS].legacy_upload_sunset, time(0, 0), tzinfo=UTC)
    headers = {"Deprecation": "true", "Sunset": format_datetime(sunset, usegmt=True)}
    if project_id is not None:
        headers["Link"] = f'</api/v2/projects/{project_id}/files>; rel="successor-version"'
    return headers


async def legacy_upload(request: web.Request) -> web.Response:
    """The seed's POST /api/files/upload: project_id as a query or form field. It waits for the outcome by
    default, as the seed answered synchronously; every answer carries Deprecation and Sunset headers."""
    raw_project = request.query.get("project_id")
    project_id = None
    if raw_project:
        try:
            project_id = uuid.UUID(raw_project)
        except ValueError:
            project_id = None
    headers = deprecation_headers(request, project_id)
    try:
        return await _upload(request, project_id=project_id, data_source_id=None, wait_default=LEGACY_WAIT_S,
                             headers=headers)
    except DomainError as error:
        return problem_with(request, status=error.http_status, code=error.code, title=error.title,
                            detail=error.detail, extra={"errors": getattr(error, "errors", [])}, headers=headers,
                            params=error.params)


async def _preview(request: web.Request, *, project_id: uuid.UUID, data_source_id: uuid.UUID | None) -> web.Response:
    settings, scratch, pool = request.app[SETTINGS], request.app[SCRATCH], request.app[PG_POOL]
    received = await receive_form(request, scratch, max_bytes=settings.storage.max_upload_bytes)
    try:
        mapping, options = mapping_field(received.fields), options_field(received.fields) or {}
        if data_source_id is not None:
            source = await data_sources.template(pool, directory(request), project_id, data_source_id)
            mapping = mapping if mapping is not None else source["mapping"]
            options = {**source["parse_options"], **options}
        job = PreviewJob(path=received.staged.staging_ref, filename=received.filename, mapping=mapping,
                         options=options, rows=settings.ingest.preview_rows)
        preview = await request.app[PARSERS].call(preview_file, job)
    finally:
        await scratch.discard(received.staged)
    return json_response({"filename": received.filename, "size_bytes": received.staged.size_bytes,
                          "sha256": received.staged.sha256, **preview})


async def preview_for_project(request: web.Request) -> web.Response:
    return await _preview(request, project_id=path_uuid(request, "project_id", code="project_not_found"),
                          data_source_id=None)


async def preview_for_data_source(request: web.Request) -> web.Response:
    return await _preview(request, project_id=path_uuid(request, "project_id", code="project_not_found"),
                          data_source_id=path_uuid(request, "data_source_id", code="data_source_not_found"))
