"""The authorization matrix for the routes the files and results services serve, through the gateway and
the real processes: owner / editor / viewer / non-member / anonymous / expired / tampered. The services
decide (from the gateway's signed identity and the caller's role in projects); the gateway only adds the
401s. Gateway and projects routes are covered cell by cell in services/gateway/tests."""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from typing import Any

import aiohttp
import asyncpg
import pytest

from platform_common.auth import TokenCodec

pytestmark = pytest.mark.e2e

ALLOWED = "allowed"  # past authorization: whatever the handler answers, it is not 401, 403 or "no such project"
MEMBERS = ("owner", "editor", "viewer", "outsider")
READ = (ALLOWED, ALLOWED, ALLOWED, 404)
WRITE = (ALLOWED, ALLOWED, 403, 404)
ROWS: list[tuple[str, str, str, tuple[Any, ...], str]] = [
    ("getFile", "GET", "/api/v2/files/{file_id}", (200, 200, 200, 404), "none"),
    ("getJobResults", "GET", "/api/v2/jobs/{job_id}/results", (200, 200, 200, 404), "none"),
    ("listDatasets", "GET", "/api/v2/projects/{project_id}/data-sources/{data_source_id}/datasets", READ, "none"),
    ("getDataset", "GET", "/api/v2/projects/{project_id}/datasets/{dataset_id}", READ, "none"),
    ("getDatasetErrors", "GET", "/api/v2/projects/{project_id}/datasets/{dataset_id}/errors", READ, "none"),
    ("uploadFile", "POST", "/api/v2/projects/{project_id}/files", WRITE, "multipart"),
    ("previewFile", "POST", "/api/v2/projects/{project_id}/preview", WRITE, "multipart"),
    ("uploadToDataSource", "POST", "/api/v2/projects/{project_id}/data-sources/{data_source_id}/files", WRITE,
     "multipart"),
    ("previewForDataSource", "POST", "/api/v2/projects/{project_id}/data-sources/{data_source_id}/preview", WRITE,
     "multipart"),
    ("saveMapping", "PUT", "/api/v2/projects/{project_id}/data-sources/{data_source_id}/mapping", WRITE, "json"),
    ("legacyUploadFile", "POST", "/api/files/upload", WRITE, "multipart"),
]


# The services' schemas, as the processes read them (the defaults unless a run isolates itself).
FILES_SCHEMA = os.environ.get("FILES_POSTGRES__SCHEMA_NAME", "files")
RESULTS_SCHEMA = os.environ.get("RESULTS_POSTGRES__SCHEMA_NAME", "results")


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(uuid.uuid4())
    return f"{header}.{base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip('=')}.{signature}"


def _body(kind: str, project_id: str) -> dict[str, Any]:
    if kind == "json":
        return {"json": {"mapping": {"amount": "Amount"}}}
    if kind == "multipart":
        form = aiohttp.FormData()
        form.add_field("project_id", project_id)
        form.add_field("data_source_name", f"matrix {uuid.uuid4().hex[:6]}")
        form.add_field("file", b"id,amount\n1,10.00\n", filename="tiny.csv", content_type="text/csv")
        return {"data": form}
    return {}


def _passes(expected: Any, status: int, body: Any) -> bool:
    if expected == ALLOWED:
        denied = status in (401, 403) or (status == 404 and isinstance(body, dict)
                                          and body.get("code") == "project_not_found")
        return not denied and status < 500
    return bool(status == expected)


async def test_files_and_results_routes_enforce_project_roles(platform, new_account, stack) -> None:  # type: ignore[no-untyped-def]
    team = {name: await new_account(name) for name in MEMBERS}
    gateway = platform.url("gateway")
    async with aiohttp.ClientSession(base_url=gateway) as http:
        owner_headers = {"Authorization": f"Bearer {team['owner']['access_token']}"}
        async with http.post("/api/v2/projects", json={"name": "matrix"}, headers=owner_headers) as response:
            project_id = (await response.json())["id"]
        for name, role in (("editor", "editor"), ("viewer", "viewer")):
            async with http.post(f"/api/v2/projects/{project_id}/members", headers=owner_headers,
                                 json={"email": team[name]["email"], "role": role}) as response:
                assert response.status == 201, await response.text()

    ids = {"project_id": project_id, "file_id": str(uuid.uuid4()), "job_id": str(uuid.uuid4()),
           "data_source_id": str(uuid.uuid4()), "dataset_id": str(uuid.uuid4())}
    conn = await asyncpg.connect(stack["RECON_PG_DSN"])
    try:
        await conn.execute(
            f"INSERT INTO {FILES_SCHEMA}.files (id, project_id, data_source_id, object_uri, filename, origin, status) "
            "VALUES ($1, $2, $3, 'file:///matrix/none.csv', 'none.csv', 'upload', 'received')",
            uuid.UUID(ids["file_id"]), uuid.UUID(project_id), uuid.UUID(ids["data_source_id"]))
        await conn.execute(f"INSERT INTO {RESULTS_SCHEMA}.jobs (job_id, project_id, shard_count) VALUES ($1, $2, 1)",
                           uuid.UUID(ids["job_id"]), uuid.UUID(project_id))
        owner = team["owner"]
        expired = TokenCodec(platform.jwt_secret.encode(), issuer="recon-gateway", audience="recon-api",
                             clock=lambda: time.time() - 7200).encode(
            {"sub": owner["id"], "email": owner["email"], "typ": "access", "sid": str(uuid.uuid4())}, ttl_s=900)
        credentials = {name: {"Authorization": f"Bearer {team[name]['access_token']}"} for name in MEMBERS}
        credentials |= {"anonymous": {}, "expired": {"Authorization": f"Bearer {expired}"},
                        "tampered": {"Authorization": f"Bearer {_tamper(owner['access_token'])}"}}
        mismatches = {}
        async with aiohttp.ClientSession(base_url=gateway) as http:
            for operation, method, template, expected_members, body_kind in ROWS:
                path = template.format(**ids)
                expected = dict(zip(MEMBERS, expected_members, strict=True)) | {
                    "anonymous": 401, "expired": 401, "tampered": 401}
                for identity, want in expected.items():
                    async with http.request(method, path, headers=credentials[identity],
                                            **_body(body_kind, project_id)) as response:
                        raw = await response.read()
                        body = json.loads(raw) if raw and "json" in response.content_type else None
                        if not _passes(want, response.status, body):
                            mismatches[f"{operation}/{identity}"] = (response.status, want, body)
                        if response.status == 403:
                            assert body["detail"] == "You don't have access to this project"
        assert mismatches == {}
    finally:
        await conn.execute(f"DELETE FROM {RESULTS_SCHEMA}.jobs WHERE job_id = $1", uuid.UUID(ids["job_id"]))
        await conn.execute(f"DELETE FROM {FILES_SCHEMA}.files WHERE id = $1", uuid.UUID(ids["file_id"]))
        await conn.close()
