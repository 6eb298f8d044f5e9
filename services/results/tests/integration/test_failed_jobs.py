"""A job the matcher reports failed (job.progress "failed") is failed in results too: the results API says so
with the engine's code and message, and batches that arrive after the failure never complete it. The results
service runs in this process (aiohttp TestServer over create_app) on the real Kafka and Postgres, in its own
schema and consumer group; the events go through Kafka."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from platform_common.access import PROJECT_ACCESS, FixedProjectRoles
from platform_common.auth import Identity, InternalTokens, ServiceAuthSettings
from platform_common.contracts.projects import Role
from platform_common.events import Envelope, Event, JobProgressed, MatchBatchProduced, MatchItem, UnmatchedItem
from platform_common.keys import PG_POOL, PUBLISHER
from platform_common.settings import KafkaSettings, PostgresSettings
from platform_common.testing import eventually
from results.app import create_app
from results.config import ResultsSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

PROJECT = uuid.uuid4()
VIEWER = Identity(user_id=uuid.uuid4(), email="viewer@example.com")
ENGINE_MESSAGE = "passes[p].comparisons[0]: column 'reference' must be an exact Decimal or integer (got String)"


@dataclass
class Results:
    client: TestClient
    tokens: InternalTokens
    consumer_group: str

    async def publish(self, event: Event) -> Envelope:
        """Publish through Kafka and wait until the results consumer has handled the event."""
        envelope = await self.client.server.app[PUBLISHER].publish(event)

        async def handled() -> bool:
            async with self.client.server.app[PG_POOL].acquire() as conn:
                return bool(await conn.fetchval("SELECT true FROM inbox WHERE consumer = $1 AND event_id = $2",
                                                self.consumer_group, envelope.id))

        await eventually(handled, timeout_s=60, every_s=0.1)
        return envelope

    async def summary(self, job_id: uuid.UUID) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens.mint(VIEWER)}"}
        async with self.client.get(f"/v1/jobs/{job_id}/results", headers=headers) as response:
            return response.status, await response.json(content_type=None)

    async def completions_announced(self, job_id: uuid.UUID) -> int:
        async with self.client.server.app[PG_POOL].acquire() as conn:
            count: int = await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'job.completed' "
                                             "AND message_key = $1", str(job_id).encode())
            return count


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def results(stack: dict[str, str]) -> AsyncIterator[Results]:
    suffix, key = uuid.uuid4().hex[:8], secrets.token_urlsafe(32)
    settings = ResultsSettings(
        environment="test",
        kafka=KafkaSettings(bootstrap_servers=stack["RECON_KAFKA_BOOTSTRAP"]),
        postgres=PostgresSettings(dsn=stack["RECON_PG_DSN"], schema_name=f"results_t{suffix}"),
        auth=ServiceAuthSettings(internal_key=key),
        consumer_group=f"results-t{suffix}",
    )
    app = create_app(settings)
    app[PROJECT_ACCESS] = FixedProjectRoles({(VIEWER.user_id, PROJECT): Role.VIEWER})
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Results(client, InternalTokens(key.encode()), settings.consumer_group)
    finally:
        await client.close()
        conn = await asyncpg.connect(stack["RECON_PG_DSN"])
        try:
            await conn.execute(f"DROP SCHEMA IF EXISTS results_t{suffix} CASCADE")
        finally:
            await conn.close()


def batch(job_id: uuid.UUID, shard_no: int, *, shard_count: int = 2) -> MatchBatchProduced:
    return MatchBatchProduced(
        job_id=job_id, project_id=PROJECT, shard_no=shard_no, shard_count=shard_count, batch_seq=0, is_last=True,
        matches=[MatchItem(left_ids=[f"L{shard_no}"], right_ids=[f"R{shard_no}"], score=1.0, status="auto",
                           pass_name="exact")],
        unmatched=[UnmatchedItem(side="left", record_id=f"L{shard_no}-extra")],
    )


def failed(job_id: uuid.UUID, code: str, detail: str, shard_no: int | None = None,
           project_id: uuid.UUID | None = None) -> JobProgressed:
    return JobProgressed(job_id=job_id, shard_no=shard_no, stage="failed", error_code=code, detail=detail,
                         project_id=project_id)


async def test_a_job_whose_shards_all_arrive_succeeds(results: Results) -> None:
    job_id = uuid.uuid4()
    await results.publish(batch(job_id, 0))
    status, body = await results.summary(job_id)
    assert status == 200 and body["status"] == "running" and body["error_code"] is None
    await results.publish(batch(job_id, 1))
    status, body = await results.summary(job_id)
    assert (status, body["status"], body["matched"]) == (200, "succeeded", 2)
    assert await results.completions_announced(job_id) == 1


async def test_a_failed_job_says_so_and_its_late_batches_never_complete_it(results: Results) -> None:
    job_id = uuid.uuid4()
    await results.publish(batch(job_id, 0))
    await results.publish(failed(job_id, "input_invalid", ENGINE_MESSAGE, shard_no=1))
    # A second failure (another shard) keeps the first's code and message.
    await results.publish(failed(job_id, "engine_error", "boom", shard_no=1))
    await results.publish(batch(job_id, 1))  # the failing shard's earlier output, arriving late

    status, body = await results.summary(job_id)
    assert status == 200
    assert (body["status"], body["error_code"], body["detail"]) == ("failed", "input_invalid", ENGINE_MESSAGE)
    assert body["completed_at"] is not None
    assert (body["matched"], body["unmatched_left"]) == (1, 1), "only what arrived before the failure"
    assert await results.completions_announced(job_id) == 0


async def test_a_job_that_fails_at_planning_says_so_when_the_failure_names_its_project(results: Results) -> None:
    job_id = uuid.uuid4()
    await results.publish(failed(job_id, "rules_invalid", "passes[0]: tolerance on a text column", project_id=PROJECT))
    status, body = await results.summary(job_id)
    assert (status, body["status"], body["error_code"]) == (200, "failed", "rules_invalid")
    assert (body["project_id"], body["matched"]) == (str(PROJECT), 0)


async def test_a_job_that_fails_before_its_first_batch_is_failed_once_its_project_is_known(
        results: Results) -> None:
    job_id = uuid.uuid4()
    await results.publish(failed(job_id, "rules_invalid", "passes[0]: tolerance on a text column"))
    status, body = await results.summary(job_id)
    # The failure names no project (an older matcher), so no caller can be authorized yet: answered as
    # before, not as running.
    assert (status, body["code"]) == (404, "results_not_found")

    await results.publish(batch(job_id, 0, shard_count=1))  # the only shard: it would have completed the job
    status, body = await results.summary(job_id)
    assert (status, body["status"], body["error_code"], body["matched"]) == (200, "failed", "rules_invalid", 0)
    assert await results.completions_announced(job_id) == 0
