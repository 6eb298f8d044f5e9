"""Memberships and the project lifecycle: roles, the last owner, archiving, data sources and jobs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from projects_harness import Replica, person

from platform_common.events import DecodedMessage, FileIngested, JobCompleted, JobProgressed, wrap
from projects.entrypoints.keys import DEPS
from projects.service_layer.events import on_event

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def test_the_last_owner_can_neither_leave_nor_step_down(service: Replica) -> None:
    owner, second = person("owner"), person("second")
    project = await service.create_project(owner)
    base = f"/v1/projects/{project['id']}/members"
    status, body = await service.call("DELETE", f"{base}/{owner.user_id}", owner)
    assert status == 409 and body["code"] == "last_owner"
    status, body = await service.call("PATCH", f"{base}/{owner.user_id}", owner, json={"role": "editor"})
    assert status == 409 and body["code"] == "last_owner"

    await service.add(owner, project["id"], second, "owner")
    status, _ = await service.call("DELETE", f"{base}/{owner.user_id}", owner)
    assert status == 204, "with another owner, leaving is fine"
    status, body = await service.call("GET", f"/v1/projects/{project['id']}", owner)
    assert status == 404 and body["code"] == "project_not_found"
    status, members = await service.call("GET", base, second)
    assert [(m["user_id"], m["role"]) for m in members["items"]] == [(str(second.user_id), "owner")]
    status, body = await service.call("DELETE", f"{base}/{second.user_id}", second)
    assert status == 409 and body["code"] == "last_owner"


async def test_members_are_managed_by_owners_and_anyone_may_leave(service: Replica) -> None:
    owner, editor, viewer = person("owner"), person("editor"), person("viewer")
    project = await service.create_project(owner)
    base = f"/v1/projects/{project['id']}/members"
    await service.add(owner, project["id"], editor, "editor")
    await service.add(owner, project["id"], viewer, "viewer")
    status, body = await service.call("POST", base, owner,
                                      json={"user_id": str(viewer.user_id), "email": viewer.email, "role": "editor"})
    assert status == 409 and body["code"] == "member_exists"
    status, body = await service.call("PATCH", f"{base}/{uuid.uuid4()}", owner, json={"role": "editor"})
    assert status == 404 and body["code"] == "member_not_found"
    status, body = await service.call("DELETE", f"{base}/{viewer.user_id}", editor)
    assert status == 403 and body["detail"] == "You don't have access to this project"
    status, body = await service.call("PATCH", f"{base}/{viewer.user_id}", owner, json={"role": "editor"})
    assert status == 200 and body["role"] == "editor"
    status, _ = await service.call("DELETE", f"{base}/{viewer.user_id}", viewer)
    assert status == 204, "members may leave"
    status, members = await service.call("GET", base, editor)
    assert [m["role"] for m in members["items"]] == ["owner", "editor"]
    assert {m["email"] for m in members["items"]} == {owner.email, editor.email}
    status, access = await service.call("GET", f"/v1/projects/{project['id']}/access", editor)
    assert status == 200 and access["role"] == "editor"
    status, _ = await service.call("GET", f"/v1/projects/{project['id']}/access", viewer)
    assert status == 404


async def test_an_archived_project_is_read_only_until_restored(service: Replica) -> None:
    owner, editor = person("owner"), person("editor")
    project = await service.create_project(owner, "to archive", description="quarter end")
    assert project["description"] == "quarter end" and project["status"] == "active"
    await service.add(owner, project["id"], editor, "editor")
    path = f"/v1/projects/{project['id']}"
    status, archived = await service.call("POST", f"{path}/archive", owner)
    assert status == 200 and archived["status"] == "archived" and archived["archived_at"]
    status, again = await service.call("POST", f"{path}/archive", owner)
    assert status == 200 and again["archived_at"] == archived["archived_at"], "archiving twice changes nothing"
    writes = [("PATCH", path, {"name": "new"}), ("POST", f"{path}/data-sources", {"name": "bank"}),
              ("POST", f"{path}/jobs", {"left_dataset_id": str(uuid.uuid4()), "right_dataset_id": str(uuid.uuid4())})]
    for method, target, body in writes:
        status, answer = await service.call(method, target, editor, json=body)
        assert status == 409 and answer["code"] == "project_archived", target
    assert (await service.call("GET", path, editor))[0] == 200
    status, restored = await service.call("POST", f"{path}/restore", owner)
    assert status == 200 and restored["status"] == "active" and restored["archived_at"] is None
    status, renamed = await service.call("PATCH", path, editor, json={"name": "  new name  "})
    assert status == 200 and renamed["name"] == "new name"


async def test_data_sources_and_jobs(service: Replica) -> None:
    owner, viewer = person("owner"), person("viewer")
    project = await service.create_project(owner)
    await service.add(owner, project["id"], viewer, "viewer")
    base = f"/v1/projects/{project['id']}"
    status, source = await service.call("POST", f"{base}/data-sources", owner,
                                        json={"name": "Bank statement", "description": "camt.053"})
    assert status == 201 and source["ingestion_status"] is None
    status, body = await service.call("POST", f"{base}/data-sources", owner, json={"name": "Bank statement"})
    assert status == 409 and body["code"] == "data_source_exists"
    status, listed = await service.call("GET", f"{base}/data-sources", viewer)
    assert [s["id"] for s in listed["items"]] == [source["id"]]
    status, body = await service.call("GET", f"{base}/data-sources/{uuid.uuid4()}", viewer)
    assert status == 404 and body["code"] == "data_source_not_found"

    jobs = []
    for _ in range(5):
        status, job = await service.call("POST", f"{base}/jobs", owner, json={
            "left_dataset_id": str(uuid.uuid4()), "right_dataset_id": str(uuid.uuid4()), "rule_set": {"passes": []}})
        assert status == 201 and job["status"] == "running"
        jobs.append(job["id"])
    seen, cursor = [], None
    while True:
        status, page = await service.call("GET", f"{base}/jobs", viewer,
                                          params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        seen += [job["id"] for job in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(jobs)), "newest first, each once"
    status, body = await service.call("GET", f"/v1/jobs/{jobs[0]}", person("stranger"))
    assert status == 404 and body["code"] == "job_not_found"
    status, view = await service.call("GET", f"/v1/projects/{project['id']}", viewer)
    assert view["counts"] == {"members": 2, "data_sources": 1, "jobs": 5}


async def test_calls_without_a_valid_identity_token_are_refused(service: Replica) -> None:
    status, body = await service.call("GET", "/v1/projects", None)
    assert status == 401 and body["code"] == "unauthenticated"
    async with service.client.get("/v1/projects", headers={"Authorization": "Bearer forged.token.here",
                                                           "X-User-Id": str(uuid.uuid4())}) as response:
        assert response.status == 401
        assert (await response.json(content_type=None))["code"] == "invalid_token"
    async with service.client.get("/healthz") as response:
        assert response.status == 200, "operational routes stay open"


async def test_the_data_source_says_whether_its_latest_file_was_rejected_or_failed(service: Replica) -> None:
    owner = person("owner")
    project = await service.create_project(owner)
    base = f"/v1/projects/{project['id']}/data-sources"
    _, source = await service.call("POST", base, owner, json={"name": "Ledger"})

    async def ingested(status: str, at: datetime, rows: int = 0) -> dict[str, Any]:
        event = FileIngested(file_id=uuid.uuid4(), project_id=uuid.UUID(project["id"]),
                             data_source_id=uuid.UUID(source["id"]), status=status,  # type: ignore[arg-type]
                             dataset_id=uuid.uuid4() if status == "committed" else None, row_count=rows)
        envelope = wrap(event, producer="files").model_copy(update={"occurred_at": at})
        await on_event(service.app[DEPS], DecodedMessage(envelope=envelope, event=event), consumer="test")
        _, body = await service.call("GET", f"{base}/{source['id']}", owner)
        return dict(body)

    start = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert (await ingested("committed", start, rows=3))["ingestion_status"] == "committed"
    # Our side failed on the next upload: shown as such, not as a problem with the file.
    failed = await ingested("failed", start + timedelta(minutes=1))
    assert (failed["ingestion_status"], failed["row_count"]) == ("failed", 0)
    assert (await ingested("rejected", start + timedelta(minutes=2)))["ingestion_status"] == "rejected"


async def test_a_failed_job_shows_the_engines_code_with_its_message_and_the_first_failure_wins(
        service: Replica) -> None:
    owner = person("owner")
    project = await service.create_project(owner)
    status, job = await service.call("POST", f"/v1/projects/{project['id']}/jobs", owner,
                                     json={"left_dataset_id": str(uuid.uuid4()), "right_dataset_id": str(uuid.uuid4())})
    assert status == 201 and job["error_code"] is None

    async def deliver(event: JobProgressed | JobCompleted) -> None:
        message = DecodedMessage(envelope=wrap(event, producer="matcher"), event=event)
        assert await on_event(service.app[DEPS], message, consumer="test")

    job_id = uuid.UUID(job["id"])
    message = "passes[p].comparisons[0]: column 'reference' must be an exact Decimal or integer (got String)"
    await deliver(JobProgressed(job_id=job_id, stage="failed", error_code="input_invalid", detail=message))
    # A second shard failing differently, and a stray completion, change nothing.
    await deliver(JobProgressed(job_id=job_id, shard_no=3, stage="failed", error_code="engine_error", detail="boom"))
    await deliver(JobCompleted(job_id=job_id, project_id=uuid.UUID(project["id"]), status="succeeded", matched=4))

    status, seen = await service.call("GET", f"/v1/jobs/{job['id']}", owner)
    assert status == 200
    assert (seen["status"], seen["error_code"], seen["detail"], seen["matched"]) == (
        "failed", "input_invalid", message, None)
    _, page = await service.call("GET", f"/v1/projects/{project['id']}/jobs", owner)
    assert [(item["id"], item["error_code"]) for item in page["items"]] == [(job["id"], "input_invalid")]
