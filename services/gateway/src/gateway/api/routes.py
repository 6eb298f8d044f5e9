"""The public API, declared once: the router and the OpenAPI document are both built from this table."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from gateway.domain.accounts import Credentials, LogoutRequest, RefreshRequest, Registration, TokenPair, User
from platform_common.contracts.projects import (
    DataSourceCreate,
    DataSourceList,
    DataSourceView,
    JobCreate,
    JobListQuery,
    JobPage,
    JobView,
    MemberInvite,
    MemberList,
    MemberRoleChange,
    MemberView,
    ProjectCreate,
    ProjectListQuery,
    ProjectPage,
    ProjectUpdate,
    ProjectView,
)

Upstream = Literal["projects", "files", "results"]
_PATH_PARAM = re.compile(r"{([a-z_]+)}")

# Owned by services whose models are not shared contracts (yet): documented as open objects.
OPEN_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    summary: str
    tag: str
    upstream: Upstream | None = None
    upstream_path: str | None = None
    public: bool = False
    rate_scope: Literal["user", "auth"] = "user"
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    response_schema: dict[str, Any] | None = None
    request_schema: dict[str, Any] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    stream_request: bool = False
    deprecated: bool = False
    successor: str | None = None
    description: str = ""
    request_content_type: str = "application/json"
    path_params: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path_params", tuple(_PATH_PARAM.findall(self.path)))


_MEMBER = (401, 403, 404, 429)       # every project-scoped call: signed in, member, allowed, not throttled
_WRITE = (*_MEMBER, 409, 413, 422)

V2: tuple[Operation, ...] = (
    Operation("register", "POST", "/api/v2/auth/register", "Create an account", "auth", public=True,
              rate_scope="auth", body=Registration, response=User, status=201, errors=(409, 413, 422, 429)),
    Operation("login", "POST", "/api/v2/auth/login", "Sign in: get an access and a refresh token", "auth",
              public=True, rate_scope="auth", body=Credentials, response=TokenPair, errors=(401, 413, 422, 429)),
    Operation("refresh", "POST", "/api/v2/auth/refresh", "Rotate a refresh token", "auth", public=True,
              rate_scope="auth", body=RefreshRequest, response=TokenPair, errors=(401, 413, 422, 429),
              description="The presented refresh token is spent. Presenting a spent token again ends the whole "
                          "sign-in (every token of it), because it means the token was copied."),
    Operation("logout", "POST", "/api/v2/auth/logout", "End the sign-in a refresh token belongs to", "auth",
              public=True, rate_scope="auth", body=LogoutRequest, status=204, errors=(413, 422, 429)),
    Operation("me", "GET", "/api/v2/auth/me", "The signed-in account", "auth", response=User, errors=(401, 429)),
    Operation("listProjects", "GET", "/api/v2/projects", "Projects you are a member of", "projects",
              upstream="projects", upstream_path="/v1/projects", query=ProjectListQuery, response=ProjectPage,
              errors=(401, 422, 429),
              description="Search (`q`, on the name), filter (`status`, `role`), sort and page with `cursor`. "
                          "Each item carries its member, data-source and job counts."),
    Operation("createProject", "POST", "/api/v2/projects", "Create a project (you become its owner)", "projects",
              upstream="projects", upstream_path="/v1/projects", body=ProjectCreate, response=ProjectView,
              status=201, errors=(401, 413, 422, 429)),
    Operation("getProject", "GET", "/api/v2/projects/{project_id}", "A project", "projects", upstream="projects",
              upstream_path="/v1/projects/{project_id}", response=ProjectView, errors=_MEMBER),
    Operation("updateProject", "PATCH", "/api/v2/projects/{project_id}", "Rename or describe a project (editor)",
              "projects", upstream="projects", upstream_path="/v1/projects/{project_id}", body=ProjectUpdate,
              response=ProjectView, errors=_WRITE),
    Operation("archiveProject", "POST", "/api/v2/projects/{project_id}/archive", "Archive a project (owner)",
              "projects", upstream="projects", upstream_path="/v1/projects/{project_id}/archive",
              response=ProjectView, errors=_MEMBER),
    Operation("restoreProject", "POST", "/api/v2/projects/{project_id}/restore", "Restore an archived project "
              "(owner)", "projects", upstream="projects", upstream_path="/v1/projects/{project_id}/restore",
              response=ProjectView, errors=_MEMBER),
    Operation("listMembers", "GET", "/api/v2/projects/{project_id}/members", "Members and their roles", "members",
              upstream="projects", upstream_path="/v1/projects/{project_id}/members", response=MemberList,
              errors=_MEMBER),
    Operation("addMember", "POST", "/api/v2/projects/{project_id}/members", "Add a member by email (owner)",
              "members", upstream="projects", upstream_path="/v1/projects/{project_id}/members", body=MemberInvite,
              response=MemberView, status=201, errors=_WRITE),
    Operation("changeMemberRole", "PATCH", "/api/v2/projects/{project_id}/members/{user_id}", "Change a member's "
              "role (owner)", "members", upstream="projects",
              upstream_path="/v1/projects/{project_id}/members/{user_id}", body=MemberRoleChange,
              response=MemberView, errors=_WRITE),
    Operation("removeMember", "DELETE", "/api/v2/projects/{project_id}/members/{user_id}", "Remove a member "
              "(owner), or leave (yourself)", "members", upstream="projects",
              upstream_path="/v1/projects/{project_id}/members/{user_id}", status=204, errors=(*_MEMBER, 409),
              description="The last owner cannot leave or be removed: make someone else an owner first."),
    Operation("listDataSources", "GET", "/api/v2/projects/{project_id}/data-sources", "Data sources", "data sources",
              upstream="projects", upstream_path="/v1/projects/{project_id}/data-sources", response=DataSourceList,
              errors=_MEMBER),
    Operation("createDataSource", "POST", "/api/v2/projects/{project_id}/data-sources", "Define a data source "
              "(editor)", "data sources", upstream="projects",
              upstream_path="/v1/projects/{project_id}/data-sources", body=DataSourceCreate,
              response=DataSourceView, status=201, errors=_WRITE),
    Operation("getDataSource", "GET", "/api/v2/projects/{project_id}/data-sources/{data_source_id}", "A data "
              "source with its latest ingestion", "data sources", upstream="projects",
              upstream_path="/v1/projects/{project_id}/data-sources/{data_source_id}", response=DataSourceView,
              errors=_MEMBER),
    Operation("listJobs", "GET", "/api/v2/projects/{project_id}/jobs", "Jobs of a project, newest first", "jobs",
              upstream="projects", upstream_path="/v1/projects/{project_id}/jobs", query=JobListQuery,
              response=JobPage, errors=(*_MEMBER, 422)),
    Operation("startJob", "POST", "/api/v2/projects/{project_id}/jobs", "Start a reconciliation job (editor)",
              "jobs", upstream="projects", upstream_path="/v1/projects/{project_id}/jobs", body=JobCreate,
              response=JobView, status=201, errors=_WRITE),
    Operation("getJob", "GET", "/api/v2/jobs/{job_id}", "A job's status and progress", "jobs", upstream="projects",
              upstream_path="/v1/jobs/{job_id}", response=JobView, errors=_MEMBER),
    Operation("getJobResults", "GET", "/api/v2/jobs/{job_id}/results", "A finished job's result summary", "results",
              upstream="results", upstream_path="/v1/jobs/{job_id}/results", response_schema=OPEN_OBJECT,
              errors=_MEMBER),
    Operation("uploadFile", "POST", "/api/v2/projects/{project_id}/files", "Upload a file (editor; multipart, "
              "streamed)", "files", upstream="files", upstream_path="/v1/projects/{project_id}/files",
              response_schema=OPEN_OBJECT, status=201, errors=_WRITE, stream_request=True,
              request_content_type="multipart/form-data"),
    Operation("previewFile", "POST", "/api/v2/projects/{project_id}/preview", "Preview how a file parses, storing "
              "nothing (editor; multipart)", "files", upstream="files",
              upstream_path="/v1/projects/{project_id}/preview",
              response_schema=OPEN_OBJECT, errors=_WRITE, stream_request=True,
              request_content_type="multipart/form-data"),
    Operation("uploadToDataSource", "POST", "/api/v2/projects/{project_id}/data-sources/{data_source_id}/files",
              "Upload a file into a data source (editor; multipart, streamed)", "files", upstream="files",
              upstream_path="/v1/projects/{project_id}/data-sources/{data_source_id}/files",
              response_schema=OPEN_OBJECT, status=201, errors=_WRITE, stream_request=True,
              request_content_type="multipart/form-data"),
    Operation("previewForDataSource", "POST", "/api/v2/projects/{project_id}/data-sources/{data_source_id}/preview",
              "Preview a file with the data source's mapping (editor; multipart)", "files", upstream="files",
              upstream_path="/v1/projects/{project_id}/data-sources/{data_source_id}/preview",
              response_schema=OPEN_OBJECT, errors=_WRITE, stream_request=True,
              request_content_type="multipart/form-data"),
    Operation("saveMapping", "PUT", "/api/v2/projects/{project_id}/data-sources/{data_source_id}/mapping",
              "Save the data source's column mapping template (editor)", "files", upstream="files",
              upstream_path="/v1/projects/{project_id}/data-sources/{data_source_id}/mapping",
              request_schema=OPEN_OBJECT, response_schema=OPEN_OBJECT, errors=_WRITE),
    Operation("listDatasets", "GET", "/api/v2/projects/{project_id}/data-sources/{data_source_id}/datasets",
              "Ingested dataset versions of a data source", "files", upstream="files",
              upstream_path="/v1/projects/{project_id}/data-sources/{data_source_id}/datasets",
              response_schema=OPEN_OBJECT, errors=_MEMBER),
    Operation("getDataset", "GET", "/api/v2/projects/{project_id}/datasets/{dataset_id}", "A dataset version",
              "files", upstream="files", upstream_path="/v1/projects/{project_id}/datasets/{dataset_id}",
              response_schema=OPEN_OBJECT, errors=_MEMBER),
    Operation("getDatasetErrors", "GET", "/api/v2/projects/{project_id}/datasets/{dataset_id}/errors",
              "Row-level errors of a dataset (`after`, `limit` page through them)", "files", upstream="files",
              upstream_path="/v1/projects/{project_id}/datasets/{dataset_id}/errors", response_schema=OPEN_OBJECT,
              errors=(*_MEMBER, 422)),
    Operation("getFile", "GET", "/api/v2/files/{file_id}", "A file's metadata and ingestion status", "files",
              upstream="files", upstream_path="/v1/files/{file_id}", response_schema=OPEN_OBJECT, errors=_MEMBER),
)

# The seed's paths, kept working while clients move to /api/v2 (Deprecation and Sunset headers say until when).
V1: tuple[Operation, ...] = (
    Operation("legacyListProjects", "GET", "/api/projects", "Deprecated: use GET /api/v2/projects", "deprecated",
              upstream="projects", upstream_path="/v1/projects", query=ProjectListQuery, response=ProjectPage,
              errors=(401, 422, 429), deprecated=True, successor="/api/v2/projects"),
    Operation("legacyCreateProject", "POST", "/api/projects", "Deprecated: use POST /api/v2/projects", "deprecated",
              upstream="projects", upstream_path="/v1/projects", body=ProjectCreate, response=ProjectView,
              status=201, errors=(401, 413, 422, 429), deprecated=True, successor="/api/v2/projects"),
    Operation("legacyGetProject", "GET", "/api/projects/{project_id}", "Deprecated: use GET "
              "/api/v2/projects/{project_id}", "deprecated", upstream="projects",
              upstream_path="/v1/projects/{project_id}", response=ProjectView, errors=_MEMBER, deprecated=True,
              successor="/api/v2/projects/{project_id}"),
    Operation("legacyUploadFile", "POST", "/api/files/upload", "Deprecated: use POST /api/v2/projects/{project_id}"
              "/files", "deprecated", upstream="files", upstream_path="/v1/files/upload",
              response_schema=OPEN_OBJECT, status=201, errors=_WRITE, stream_request=True,
              request_content_type="multipart/form-data", deprecated=True,
              successor="/api/v2/projects/{project_id}/files"),
)

OPENAPI_PATH = "/api/v2/openapi.json"
OPERATIONS: tuple[Operation, ...] = V2 + V1
