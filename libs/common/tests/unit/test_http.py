from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.typedefs import Handler
from pydantic import BaseModel

from platform_common.errors import Forbidden, NotFound, RateLimited, ValidationFailed
from platform_common.health import health_of
from platform_common.http import TRANSLATOR, create_base_app
from platform_common.i18n import install_translations
from platform_common.testing import raw_http_exchange, served_on_a_free_port


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


MALFORMED_REQUESTS = {
    "not HTTP at all": b"GARBAGE\r\n\r\n",
    "TLS on the plain port": b"\x16\x03\x01\x00\xa5\x01\x00\x00\r\n\r\n",
    "unknown HTTP version": b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
    "invalid header name": b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: GARBAGE\r\n\r\n",
    "header line over the limit": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + b"G" * 9000 + b"\r\n\r\n",
    "request line over the limit": b"GET /" + b"G" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "too many headers": b"GET /healthz HTTP/1.1\r\n" + b"".join(b"H%d: x\r\n" % i for i in range(200)) + b"\r\n",
    "invalid Content-Length": b"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: GARBAGE\r\n\r\n",
}


async def mark_prepared(_: web.Request, response: web.StreamResponse) -> None:
    response.headers["X-Prepared"] = "yes"


@pytest.mark.parametrize("request_bytes", MALFORMED_REQUESTS.values(), ids=MALFORMED_REQUESTS.keys())
async def test_requests_aiohttp_cannot_parse_get_problem_documents_and_the_apps_prepare_hooks(
        request_bytes: bytes) -> None:
    app = make_app()
    app.on_response_prepare.append(mark_prepared)
    async with served_on_a_free_port(app) as port:
        status, headers, raw_body = await raw_http_exchange(port, request_bytes)
    body = json.loads(raw_body)
    assert status == 400 and headers["Content-Type"] == "application/problem+json"
    assert body["code"] == "bad_request" and body["type"] == "urn:recon:problem:bad_request"
    assert body["status"] == 400 and body["title"] == "Bad Request" and body["detail"]
    assert body["request_id"] == headers["X-Request-ID"]
    assert headers["X-Prepared"] == "yes"
    assert "GARBAGE" not in raw_body.decode() and "GGGG" not in raw_body.decode(), "the bad bytes are not echoed"


async def test_an_exception_escaping_every_middleware_is_a_problem_document_in_the_callers_language() -> None:
    @web.middleware
    async def outermost_crash(request: web.Request, handler: Handler) -> web.StreamResponse:
        raise RuntimeError("SELECT secret FROM internals")

    app = web.Application(middlewares=[outermost_crash])
    install_translations(app)
    app.on_response_prepare.append(mark_prepared)
    async with served_on_a_free_port(app) as port:
        status, headers, raw_body = await raw_http_exchange(
            port, b"GET / HTTP/1.1\r\nHost: x\r\nAccept-Language: de\r\n\r\n")
    body = json.loads(raw_body)
    assert status == 500 and headers["Content-Type"] == "application/problem+json"
    assert body["code"] == "internal_error" and body["detail"].startswith("Bei uns ist etwas schiefgelaufen")
    assert headers["X-Prepared"] == "yes"
    assert "SELECT" not in raw_body.decode() and "Traceback" not in raw_body.decode()


async def test_well_formed_requests_are_answered_as_before_by_the_problem_runner() -> None:
    app = make_app()
    app.on_response_prepare.append(mark_prepared)
    async with served_on_a_free_port(app) as port:
        status, headers, raw_body = await raw_http_exchange(
            port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: req-7\r\nConnection: close\r\n\r\n")
        assert status == 200 and headers["Content-Type"].startswith("application/json")
        assert json.loads(raw_body)["status"] == "ok"
        assert headers["X-Request-ID"] == "req-7" and headers["X-Prepared"] == "yes"
        status, headers, raw_body = await raw_http_exchange(
            port, b"GET /nf HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status == 404 and json.loads(raw_body)["code"] == "project_not_found"
