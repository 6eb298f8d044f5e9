from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import BaseModel

from platform_common.errors import Forbidden, NotFound, RateLimited, ValidationFailed
from platform_common.health import health_of
from platform_common.http import TRANSLATOR, create_base_app


class Body(BaseModel):
    name: str


async def raise_not_found(_: web.Request) -> web.Response:
    raise NotFound("no such project", code="project_not_found")


async def raise_forbidden(_: web.Request) -> web.Response:
    raise Forbidden()


async def raise_rate_limited(_: web.Request) -> web.Response:
    raise RateLimited("slow down", retry_after_s=7)


async def raise_validation_failed(_: web.Request) -> web.Response:
    raise ValidationFailed("bad", errors=[{"field": "amount", "code": "amount_invalid", "message": "x"}])


async def parse_body(request: web.Request) -> web.Response:
    Body.model_validate_json(await request.read())
    return web.Response(text="ok")


async def crash(_: web.Request) -> web.Response:
    raise RuntimeError("SELECT secret FROM internals")


def make_app() -> web.Application:
    app = create_base_app("unit", max_body_bytes=64)
    app.router.add_get("/nf", raise_not_found)
    app.router.add_get("/forbidden", raise_forbidden)
    app.router.add_get("/limited", raise_rate_limited)
    app.router.add_get("/invalid", raise_validation_failed)
    app.router.add_post("/body", parse_body)
    app.router.add_get("/crash", crash)
    return app


async def test_domain_errors_become_problem_documents() -> None:
    async with TestClient(TestServer(make_app())) as client:
        response = await client.get("/nf", headers={"X-Request-ID": "req-1"})
        body = await response.json(content_type=None)
        assert response.status == 404
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.headers["X-Request-ID"] == "req-1"
        assert body["code"] == "project_not_found"
        assert body["detail"] == "no such project"
        assert body["type"] == "urn:recon:problem:project_not_found"
        assert body["instance"] == "/nf" and body["request_id"] == "req-1"
        assert len(body["trace_id"]) == 32

        response = await client.get("/forbidden")
        assert (await response.json(content_type=None))["detail"] == "You don't have access to this project"

        response = await client.get("/limited")
        assert response.status == 429 and response.headers["Retry-After"] == "7"

        response = await client.get("/invalid")
        assert (await response.json(content_type=None))["errors"][0]["field"] == "amount"


async def test_validation_http_errors_and_crashes_never_leak_internals() -> None:
    async with TestClient(TestServer(make_app())) as client:
        response = await client.post("/body", data=b'{"nom": 1}')
        body = await response.json(content_type=None)
        assert response.status == 422 and body["errors"][0]["field"] == "name"

        response = await client.post("/body", data=b"x" * 200)
        assert response.status == 413
        assert (await response.json(content_type=None))["code"] == "payload_too_large"

        response = await client.get("/nowhere")
        assert response.status == 404 and (await response.json(content_type=None))["code"] == "not_found"

        response = await client.post("/nf")
        assert response.status == 405 and "GET" in response.headers["Allow"]

        response = await client.get("/crash")
        text = await response.text()
        assert response.status == 500
        assert "SELECT" not in text and "Traceback" not in text
        assert '"code": "internal_error"' in text

        response = await client.get("/nf", headers={"X-Request-ID": "r" * 500})
        assert len(response.headers["X-Request-ID"]) == 36, "oversized ids are replaced, not echoed"


async def test_translator_hook_localises_details() -> None:
    app = make_app()
    app[TRANSLATOR] = lambda request, code, default, params: f"[{request.headers.get('Accept-Language')}] {code}"
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/nf", headers={"Accept-Language": "de"})
        assert (await response.json(content_type=None))["detail"] == "[de] project_not_found"


async def test_health_and_metrics_endpoints() -> None:
    app = make_app()
    state = {"db_up": True, "loop_alive": True}

    async def db_check() -> None:
        if not state["db_up"]:
            raise ConnectionError("down")

    async def slow_check() -> None:
        await asyncio.sleep(0)

    health_of(app).add_readiness("postgres", db_check)
    health_of(app).add_readiness("other", slow_check)
    health_of(app).add_liveness("consumer", lambda: state["loop_alive"])
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/readyz")).status == 200
        assert (await client.get("/healthz")).status == 200
        state["db_up"] = False
        response = await client.get("/readyz")
        assert response.status == 503
        assert (await response.json())["checks"] == {"postgres": "failed: ConnectionError", "other": "ok"}
        state["loop_alive"] = False
        assert (await client.get("/healthz")).status == 503
        await client.get("/nf")
        metrics = await (await client.get("/metrics")).text()
        assert 'http_server_request_duration_seconds_count{method="GET",route="/nf",service="unit",status="404"}' in metrics
        health_of(app).remove("postgres")
        assert (await client.get("/readyz")).status == 200
