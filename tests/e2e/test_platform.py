"""Black-box journey through the gateway: all five services on real Kafka, Postgres and Redis."""

from __future__ import annotations

import signal
import time
import uuid

import aiohttp
import pytest

from platform_common.testing import eventually

pytestmark = pytest.mark.e2e
# The smallest rule set the matcher accepts: one exact pass (the datasets are empty; the flow is the point).
MINIMAL_RULES = {"version": 1, "name": "e2e", "passes": [{
    "name": "exact", "cardinality": "one_to_one", "blocking": [{"field": "reference"}],
    "comparisons": [{"type": "numeric_tolerance", "field": "amount", "absolute": "0.01", "mode": "filter"}],
    "auto_match_threshold": 1.0, "review_threshold": 0.5}]}


async def test_every_service_is_ready_with_real_dependencies(platform) -> None:  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as http:
        for service in ("gateway", "projects", "files", "matcher", "results"):
            async with http.get(platform.url(service, "/readyz")) as response:
                body = await response.json()
                assert response.status == 200, body
                assert all(v == "ok" for v in body["checks"].values())
            async with http.get(platform.url(service, "/metrics")) as response:
                assert response.status == 200
                assert "http_server_request_duration_seconds" in await response.text()


async def test_a_job_flows_through_every_topic_to_completion(platform, new_account) -> None:  # type: ignore[no-untyped-def]
    account = await new_account("journey")
    headers = {"Authorization": f"Bearer {account['access_token']}"}
    async with aiohttp.ClientSession(base_url=platform.url("gateway"), headers=headers) as http:
        async with http.post("/api/v2/projects", json={"name": "e2e reconciliation"}) as response:
            assert response.status == 201, await response.text()
            project = await response.json()
        job_request = {"left_dataset_id": str(uuid.uuid4()), "right_dataset_id": str(uuid.uuid4()),
                       "rule_set": MINIMAL_RULES}
        async with http.post(f"/api/v2/projects/{project['id']}/jobs", json=job_request) as response:
            assert response.status == 201, await response.text()
            job = await response.json()
        assert job["status"] == "running"

        async def job_finished() -> bool:
            async with http.get(f"/api/v2/jobs/{job['id']}") as response:
                body = await response.json()
                return body["status"] in ("succeeded", "failed")

        await eventually(job_finished, timeout_s=90)
        async with http.get(f"/api/v2/jobs/{job['id']}") as response:
            done = await response.json()
        assert done["status"] == "succeeded", done
        assert done["shard_count"] == 4 and done["shards_finished"] == 4
        async with http.get(f"/api/v2/jobs/{job['id']}/results") as response:
            results = await response.json()
        assert response.status == 200
        assert results["status"] == "succeeded" and results["shard_count"] == 4


async def test_errors_are_problem_documents_through_the_gateway(platform, new_account) -> None:  # type: ignore[no-untyped-def]
    account = await new_account("errors")
    headers = {"Authorization": f"Bearer {account['access_token']}"}
    async with aiohttp.ClientSession(base_url=platform.url("gateway"), headers=headers) as http:
        async with http.get(f"/api/v2/projects/{uuid.uuid4()}") as response:
            assert response.status == 404
            assert response.headers["Content-Type"].startswith("application/problem+json")
            body = await response.json()
            assert body["code"] == "project_not_found"
        async with http.post("/api/v2/projects", json={"name": ""}) as response:
            body = await response.json()
            assert response.status == 422
            assert body["errors"][0]["field"] == "name"
        async with http.get("/api/v2/nowhere") as response:
            assert response.status == 404
            assert (await response.json())["code"] == "not_found"
        async with http.post("/api/v2/projects", json={"name": "x"}, headers={"Authorization": ""}) as response:
            assert response.status == 401
            assert (await response.json())["code"] == "unauthenticated"


@pytest.mark.stops_platform
def test_sigterm_stops_every_service_cleanly_within_20_seconds(platform) -> None:  # type: ignore[no-untyped-def]
    for service, proc in platform.processes.items():
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
        elapsed = time.monotonic() - started
        assert code == 0, f"{service} exited with {code}:\n{platform.log_tail(service)}"
        assert elapsed < 20, f"{service} took {elapsed:.1f} s"
