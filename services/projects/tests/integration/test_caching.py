"""The cached read models of the projects service (project lists, job status, roles): writes are visible at
once on the replica that made them and within moments on the others; events from Kafka invalidate job
status; a cold hot key costs one database load however many requests arrive together."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from projects_harness import Replica, person

from platform_common.events import JobProgressed
from platform_common.keys import PUBLISHER
from platform_common.testing import eventually
from projects.adapters import repository

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def names(replica: Replica, caller: Any) -> list[str]:
    status, page = await replica.call("GET", "/v1/projects", caller, params={"sort": "name"})
    assert status == 200
    return [item["name"] for item in page["items"]]


async def test_writes_invalidate_lists_on_every_replica(replicas: tuple[Replica, Replica]) -> None:
    first, second = replicas
    owner, colleague = person("owner"), person("colleague")
    project = await first.create_project(owner, "alpha")
    assert await names(first, owner) == ["alpha"] and await names(second, owner) == ["alpha"]
    assert await names(second, colleague) == []

    await second.create_project(owner, "beta")
    assert await names(second, owner) == ["alpha", "beta"], "the writing replica sees its write at once"
    started = time.monotonic()

    async def first_sees_beta() -> bool:
        return await names(first, owner) == ["alpha", "beta"]

    await eventually(first_sees_beta, timeout_s=2, every_s=0.01)
    assert time.monotonic() - started < 1.0

    await second.add(owner, project["id"], colleague, "viewer")

    async def colleague_sees_it() -> bool:
        return await names(first, colleague) == ["alpha"]

    await eventually(colleague_sees_it, timeout_s=2, every_s=0.01)
    status, _ = await second.call("DELETE", f"/v1/projects/{project['id']}/members/{colleague.user_id}", owner)
    assert status == 204

    async def access_is_gone() -> bool:
        status, _ = await first.call("GET", f"/v1/projects/{project['id']}/access", colleague)
        return status == 404 and await names(first, colleague) == []

    await eventually(access_is_gone, timeout_s=2, every_s=0.01)


async def test_job_status_follows_the_events(replicas: tuple[Replica, Replica]) -> None:
    first, second = replicas
    owner = person("owner")
    project = await first.create_project(owner)
    status, job = await first.call("POST", f"/v1/projects/{project['id']}/jobs", owner,
                                   json={"left_dataset_id": str(uuid.uuid4()), "right_dataset_id": str(uuid.uuid4())})
    assert status == 201
    for replica in replicas:
        status, seen = await replica.call("GET", f"/v1/jobs/{job['id']}", owner)
        assert status == 200 and seen["shard_count"] is None  # now cached on both
    await first.app[PUBLISHER].publish(JobProgressed(job_id=uuid.UUID(job["id"]), stage="planned", shard_count=7))

    async def planned_everywhere() -> bool:
        answers = [await replica.call("GET", f"/v1/jobs/{job['id']}", owner) for replica in replicas]
        return all(body["shard_count"] == 7 for _, body in answers)

    await eventually(planned_everywhere, timeout_s=60, every_s=0.1)
    assert second is not first


async def test_a_cold_hot_list_is_loaded_once_for_200_concurrent_readers(replicas: tuple[Replica, Replica],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    owner = person("popular")
    for index in range(5):
        await replicas[0].create_project(owner, f"hot {index}")
    loads = 0
    original = repository.PgProjectRepository.page

    async def counting_page(self: repository.PgProjectRepository, *args: Any, **kwargs: Any) -> Any:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.05)  # a slow query widens the window a stampede would need
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(repository.PgProjectRepository, "page", counting_page)
    params = {"sort": "-created_at", "limit": 7}
    results = await asyncio.gather(*(replicas[i % 2].call("GET", "/v1/projects", owner, params=params)
                                     for i in range(200)))
    assert loads == 1
    assert {status for status, _ in results} == {200}
    assert all([p["name"] for p in page["items"]] == [f"hot {i}" for i in range(4, -1, -1)] for _, page in results)


async def test_cache_hits_and_misses_are_counted_by_level_and_key_type(service: Replica) -> None:
    owner = person("metrics")
    await service.create_project(owner)
    for _ in range(3):
        await names(service, owner)
    async with service.client.get("/metrics") as response:
        text = await response.text()
    for level in ("l1", "l2"):
        assert f'recon_cache_misses_total{{cache_level="{level}",key_type="project_list",service="projects"}}' in text
    assert 'recon_cache_hits_total{cache_level="l1",key_type="project_list",service="projects"}' in text
