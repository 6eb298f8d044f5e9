"""Every authenticated route of the gateway and the projects service × owner / editor / viewer / non-member /
anonymous / expired token / tampered token, with the expected status of each cell. (The files and results
routes are run through the same matrix end to end, in tests/e2e/test_authorization.py.)"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from gateway_harness import Account, Platform

from gateway.api.routes import OPERATIONS
from gateway.service_layer.accounts import ACCESS_AUDIENCE, ACCESS_ISSUER
from platform_common.auth import TokenCodec

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

MEMBERS = ("owner", "editor", "viewer", "outsider")
INVALID = ("anonymous", "expired", "tampered")
NO_ACCESS = "You don't have access to this project"


@dataclass(frozen=True)
class Row:
    operation_id: str
    method: str
    path: str
    expected: tuple[int, int, int, int]  # owner, editor, viewer, outsider
    body: Callable[[Fixture], Any] | None = None
    mutates: bool = False


@dataclass
class Fixture:
    project_id: str
    target_id: str
    data_source_id: str
    job_id: str
    newcomer: Account


ROWS = [
    Row("me", "GET", "/api/v2/auth/me", (200, 200, 200, 200)),
    Row("listProjects", "GET", "/api/v2/projects", (200, 200, 200, 200)),
    Row("createProject", "POST", "/api/v2/projects", (201, 201, 201, 201), body=lambda f: {"name": "mine"}),
    Row("getProject", "GET", "/api/v2/projects/{project_id}", (200, 200, 200, 404)),
    Row("updateProject", "PATCH", "/api/v2/projects/{project_id}", (200, 200, 403, 404),
        body=lambda f: {"name": "renamed"}, mutates=True),
    Row("archiveProject", "POST", "/api/v2/projects/{project_id}/archive", (200, 403, 403, 404), mutates=True),
    Row("restoreProject", "POST", "/api/v2/projects/{project_id}/restore", (200, 403, 403, 404), mutates=True),
    Row("listMembers", "GET", "/api/v2/projects/{project_id}/members", (200, 200, 200, 404)),
    Row("addMember", "POST", "/api/v2/projects/{project_id}/members", (201, 403, 403, 404),
        body=lambda f: {"email": f.newcomer.email, "role": "viewer"}, mutates=True),
    Row("changeMemberRole", "PATCH", "/api/v2/projects/{project_id}/members/{target_id}", (200, 403, 403, 404),
        body=lambda f: {"role": "editor"}, mutates=True),
    Row("removeMember", "DELETE", "/api/v2/projects/{project_id}/members/{target_id}", (204, 403, 403, 404),
        mutates=True),
    Row("listDataSources", "GET", "/api/v2/projects/{project_id}/data-sources", (200, 200, 200, 404)),
    Row("createDataSource", "POST", "/api/v2/projects/{project_id}/data-sources", (201, 201, 403, 404),
        body=lambda f: {"name": f"source {uuid.uuid4().hex[:6]}"}, mutates=True),
    Row("getDataSource", "GET", "/api/v2/projects/{project_id}/data-sources/{data_source_id}", (200, 200, 200, 404)),
    Row("listJobs", "GET", "/api/v2/projects/{project_id}/jobs", (200, 200, 200, 404)),
    Row("startJob", "POST", "/api/v2/projects/{project_id}/jobs", (201, 201, 403, 404),
        body=lambda f: {"left_dataset_id": str(uuid.uuid4()), "right_dataset_id": str(uuid.uuid4())}, mutates=True),
    Row("getJob", "GET", "/api/v2/jobs/{job_id}", (200, 200, 200, 404)),
    Row("legacyListProjects", "GET", "/api/projects", (200, 200, 200, 200)),
    Row("legacyCreateProject", "POST", "/api/projects", (201, 201, 201, 201), body=lambda f: {"name": "old"}),
    Row("legacyGetProject", "GET", "/api/projects/{project_id}", (200, 200, 200, 404)),
]
# Served by files and results, which this in-process platform does not run (see tests/e2e).
ELSEWHERE = {op.operation_id for op in OPERATIONS if op.upstream in ("files", "results")}


async def test_the_matrix_covers_every_authenticated_route() -> None:
    authenticated = {op.operation_id for op in OPERATIONS if not op.public}
    assert authenticated - ELSEWHERE == {row.operation_id for row in ROWS}


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(uuid.uuid4())
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


async def _fixture(platform: Platform, team: dict[str, Account], newcomer: Account) -> Fixture:
    target = team["target"]
    project_id = await platform.project_with_team(team["owner"], team["editor"], team["viewer"])
    status, body, _ = await platform.request("POST", f"/api/v2/projects/{project_id}/members", account=team["owner"],
                                             json={"email": target.email, "role": "viewer"})
    assert status == 201, body
    status, source, _ = await platform.request("POST", f"/api/v2/projects/{project_id}/data-sources",
                                               account=team["owner"], json={"name": "ledger"})
    assert status == 201, source
    status, job, _ = await platform.request("POST", f"/api/v2/projects/{project_id}/jobs", account=team["owner"],
                                            json={"left_dataset_id": str(uuid.uuid4()),
                                                  "right_dataset_id": str(uuid.uuid4())})
    assert status == 201, job
    return Fixture(project_id, target.user_id, source["id"], job["id"], newcomer)


async def test_authorization_matrix(platform: Platform) -> None:
    team = {name: await platform.signup(name) for name in ("owner", "editor", "viewer", "outsider", "target")}
    newcomer = await platform.signup("newcomer")
    owner = team["owner"]
    expired = TokenCodec(platform.jwt_secret.encode(), issuer=ACCESS_ISSUER, audience=ACCESS_AUDIENCE,
                         clock=lambda: time.time() - 7200).encode(
        {"sub": owner.user_id, "email": owner.email, "typ": "access", "sid": str(uuid.uuid4())}, ttl_s=900)
    credentials: dict[str, dict[str, str]] = {name: team[name].headers for name in MEMBERS}
    credentials |= {"anonymous": {}, "expired": {"Authorization": f"Bearer {expired}"},
                    "tampered": {"Authorization": f"Bearer {_tamper(owner.access_token)}"}}
    shared = await _fixture(platform, team, newcomer)
    mismatches: dict[str, Any] = {}
    cells = 0
    for row in ROWS:
        expected = dict(zip(MEMBERS, row.expected, strict=True)) | dict.fromkeys(INVALID, 401)
        for identity, status_expected in expected.items():
            # Only a cell that succeeds changes anything; denied cells can share one project.
            fixture = await _fixture(platform, team, newcomer) if row.mutates and status_expected < 400 else shared
            path = row.path.format(**vars(fixture))
            body = row.body(fixture) if row.body else None
            status, answer, headers = await platform.request(row.method, path, headers=credentials[identity],
                                                             json=body)
            cells += 1
            if status != status_expected:
                mismatches[f"{row.operation_id}/{identity}"] = (status, status_expected, answer)
                continue
            if status >= 400:
                assert headers["Content-Type"].startswith("application/problem+json"), (row, identity)
            if status == 403:
                assert answer["detail"] == NO_ACCESS and answer["code"] == "project_forbidden"
            if status == 404:
                assert answer["code"] in ("project_not_found", "job_not_found"), answer
            if status == 401 and identity == "expired":
                assert answer["code"] == "token_expired"
    assert mismatches == {}
    assert cells == len(ROWS) * 7


async def test_a_removed_member_loses_access_at_once(platform: Platform) -> None:
    owner, viewer = await platform.signup("owner"), await platform.signup("viewer")
    project_id = await platform.project_with_team(owner, viewer=viewer)
    assert (await platform.request("GET", f"/api/v2/projects/{project_id}/members", account=viewer))[0] == 200
    assert (await platform.request("GET", f"/api/v2/projects/{project_id}/jobs", account=viewer))[0] == 200
    status, _, _ = await platform.request("DELETE", f"/api/v2/projects/{project_id}/members/{viewer.user_id}",
                                          account=owner)
    assert status == 204
    for path in (f"/api/v2/projects/{project_id}/members", f"/api/v2/projects/{project_id}/jobs",
                 f"/api/v2/projects/{project_id}"):
        assert (await platform.request("GET", path, account=viewer))[0] == 404, path
