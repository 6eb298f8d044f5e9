"""The gateway's edge: security headers on every response (errors included, even for requests aiohttp cannot
parse), CORS for listed origins only, body size limits, deprecation notices on the seed's paths, no cookies, and
errors in the caller's language."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from gateway_harness import Platform, drop_everything, gateway_settings, start_gateway_beside, stop_gateway

from gateway.app import create_app as create_gateway
from platform_common.testing import raw_http_exchange, served_on_a_free_port

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
ALLOWED_ORIGIN = "https://app.example.com"


def assert_secured(status: int, headers: object, label: str) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, (label, status, name)  # type: ignore[attr-defined]
    assert "aiohttp" not in headers.get("Server", "")  # type: ignore[attr-defined]
    assert "Set-Cookie" not in headers  # type: ignore[operator]


async def test_every_kind_of_response_carries_the_security_headers(platform: Platform) -> None:
    account = await platform.signup("headers")
    project_id = await platform.project_with_team(account)
    big = b"{" + b" " * (platform.settings.http.max_body_bytes + 10) + b"}"
    cases = [
        ("GET", "/api/v2/openapi.json", {}, None, 200),
        ("POST", "/api/v2/projects", account.headers, {"name": "x"}, 201),
        ("POST", f"/api/v2/projects/{project_id}/archive", account.headers, None, 200),
        ("GET", "/api/v2/auth/me", {}, None, 401),
        ("GET", f"/api/v2/projects/{uuid.uuid4()}", account.headers, None, 404),
        ("GET", "/api/v2/nowhere", {}, None, 404),
        ("PUT", "/api/v2/projects", account.headers, None, 405),
        ("POST", "/api/v2/projects", account.headers, {"name": ""}, 422),
        ("PATCH", f"/api/v2/projects/{project_id}", account.headers, {"name": "y"}, 409),
        ("GET", f"/api/v2/files/{uuid.uuid4()}", account.headers, None, 503),  # files is not running here
        ("GET", "/healthz", {}, None, 200),
    ]
    for method, path, headers, body, expected in cases:
        status, answer, response_headers = await platform.request(method, path, headers=headers, json=body)
        assert status == expected, (method, path, answer)
        assert_secured(status, response_headers, path)
        if status >= 400:
            assert response_headers["Content-Type"].startswith("application/problem+json")
            assert answer["trace_id"] and answer["request_id"]
            assert "Traceback" not in str(answer) and "SELECT" not in str(answer)
    status, answer, response_headers = await platform.request(
        "POST", "/api/v2/projects", data=big, headers={**account.headers, "Content-Type": "application/json"})
    assert status == 413 and answer["code"] == "body_too_large"
    assert_secured(status, response_headers, "413")


async def test_requests_aiohttp_cannot_parse_are_problem_documents_with_the_security_headers(
        stack: dict[str, str], platform: Platform) -> None:
    """aiohttp answers these itself, before the middlewares; the production runner makes them look like ours."""
    malformed = {
        "not HTTP at all": b"GARBAGE\r\n\r\n",
        "header line over the limit": b"GET /healthz HTTP/1.1\r\nHost: gw\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n",
        "invalid header name": b"GET /healthz HTTP/1.1\r\nHost: gw\r\nBad Name: x\r\n\r\n",
        "unknown HTTP version": b"GET /healthz HTTP/9.9\r\nHost: gw\r\n\r\n",
    }
    suffix = uuid.uuid4().hex[:8]
    settings = gateway_settings(stack, suffix, projects_url=platform.projects_url, jwt_secret=platform.jwt_secret,
                                internal_key=platform.internal_key)
    try:
        async with served_on_a_free_port(create_gateway(settings)) as port:
            for label, request_bytes in malformed.items():
                status, headers, raw_body = await raw_http_exchange(port, request_bytes)
                body = json.loads(raw_body)
                assert status == 400 and headers["Content-Type"] == "application/problem+json", label
                assert body["code"] == "bad_request" and body["type"] == "urn:recon:problem:bad_request", label
                assert body["status"] == 400 and body["title"] == "Bad Request" and body["detail"], label
                assert body["request_id"] == headers["X-Request-ID"], label
                assert headers["Cache-Control"] == "no-store", label
                assert_secured(status, headers, label)

            status, headers, raw_body = await raw_http_exchange(
                port, b"GET /api/v2/auth/me HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
            assert status == 401 and json.loads(raw_body)["code"] == "unauthenticated", "well-formed: as before"
            assert headers["WWW-Authenticate"] == 'Bearer realm="recon"' and len(headers["X-Request-ID"]) == 36
            assert_secured(status, headers, "well-formed")
    finally:
        await drop_everything(stack, suffix)


async def test_cors_answers_listed_origins_only(platform: Platform) -> None:
    preflight = {"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"}
    status, _, headers = await platform.request("OPTIONS", "/api/v2/projects", headers=preflight)
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert "Authorization" in headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in headers
    assert_secured(status, headers, "preflight")

    status, body, headers = await platform.request("OPTIONS", "/api/v2/projects",
                                                   headers={**preflight, "Origin": "https://evil.example"})
    assert status == 403 and body["code"] == "cors_origin_denied"
    assert "Access-Control-Allow-Origin" not in headers

    status, _, headers = await platform.request("GET", "/api/v2/openapi.json", headers={"Origin": ALLOWED_ORIGIN})
    assert headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN and "Origin" in headers.getall("Vary")
    assert "Retry-After" in headers["Access-Control-Expose-Headers"]
    status, _, headers = await platform.request("GET", "/api/v2/openapi.json",
                                                headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in headers


async def test_cookies_never_authenticate_and_are_never_set(platform: Platform) -> None:
    account = await platform.signup("cookie")
    status, body, headers = await platform.request(
        "GET", "/api/v2/auth/me", headers={"Cookie": f"access_token={account.access_token}; session=1"})
    assert status == 401 and body["code"] == "unauthenticated"
    status, _, headers = await platform.request("POST", "/api/v2/auth/login",
                                                json={"email": account.email, "password": "wrong password!"})
    assert "Set-Cookie" not in headers


async def _raw_request(platform: Platform, head: str) -> tuple[int, dict[str, object]]:
    """Send only a request head (a client announcing a body it has not sent yet) and read the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", platform.gateway.server.port)
    try:
        writer.write(head.encode())
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(65536), timeout=10)
    finally:
        writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    _, _, body = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), json.loads(body)


async def test_uploads_over_the_limit_are_refused_before_reading_them(platform: Platform) -> None:
    account = await platform.signup("uploader")
    project_id = await platform.project_with_team(account)
    limit = platform.settings.api.upload_max_bytes
    for language, expected in (("en", "File exceeds the 100 MB limit"),
                               ("de", "Die Datei überschreitet die Grenze von 100 MB")):
        status, body = await _raw_request(platform, (
            f"POST /api/v2/projects/{project_id}/files HTTP/1.1\r\nHost: gateway\r\n"
            f"Authorization: Bearer {account.access_token}\r\nAccept-Language: {language}\r\n"
            f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {limit + 1}\r\n\r\n"))
        assert status == 413
        assert body["code"] == "file_too_large" and body["detail"] == expected


async def test_a_chunked_upload_over_the_limit_is_stopped_with_the_limit_named(
        stack: dict[str, str], platform: Platform) -> None:
    """No Content-Length: the gateway counts the bytes as it streams them on, and stops at its limit with the same
    code and words as a declared size (and as the files service's own limit)."""
    forwarded: list[int] = []  # what reached the files service, per request

    async def files_service(request: web.Request) -> web.Response:
        size = 0
        try:
            async for chunk in request.content.iter_chunked(64 * 1024):
                size += len(chunk)
        finally:
            forwarded.append(size)
        return web.json_response({"id": str(uuid.uuid4()), "status": "received", "size": size}, status=201)

    files = web.Application()
    files.router.add_post("/v1/projects/{project_id}/files", files_service)
    upstream = TestServer(files)
    await upstream.start_server()
    limit = 1024 * 1024
    gateway = await start_gateway_beside(stack, platform, files_url=str(upstream.make_url("")).rstrip("/"),
                                         upload_max_bytes=limit)
    try:
        account = await gateway.signup("chunked")
        project_id = await gateway.project_with_team(account)

        async def body(size: int) -> AsyncIterator[bytes]:
            for start in range(0, size, 64 * 1024):
                yield b"x" * min(64 * 1024, size - start)

        headers = {"Content-Type": "multipart/form-data; boundary=x"}
        status, answer, _ = await gateway.request("POST", f"/api/v2/projects/{project_id}/files", account=account,
                                                  headers=headers, data=body(limit))
        assert (status, answer["size"]) == (201, limit), "an upload of exactly the limit passes"
        for language, expected in (("en", "File exceeds the 1 MB limit"),
                                   ("de", "Die Datei überschreitet die Grenze von 1 MB")):
            status, problem, _ = await gateway.request(
                "POST", f"/api/v2/projects/{project_id}/files", account=account,
                headers={**headers, "Accept-Language": language}, data=body(limit + 64 * 1024))
            assert status == 413, problem
            assert (problem["code"], problem["detail"]) == ("file_too_large", expected)
        assert all(size <= limit for size in forwarded), forwarded
    finally:
        await stop_gateway(stack, gateway)
        await upstream.close()


async def test_seed_paths_answer_with_deprecation_and_sunset(platform: Platform) -> None:
    account = await platform.signup("legacy")
    status, project, headers = await platform.request("POST", "/api/projects", account=account,
                                                      json={"name": "from an old client"})
    assert status == 201
    assert headers["Deprecation"].startswith("@") and int(headers["Deprecation"][1:]) > 0
    assert headers["Sunset"].endswith("GMT")
    assert headers["Link"] == '</api/v2/projects>; rel="successor-version"'
    status, _, headers = await platform.request("GET", f"/api/projects/{project['id']}", account=account)
    assert status == 200 and "Deprecation" in headers and "Sunset" in headers
    status, _, headers = await platform.request("GET", "/api/projects", account=account)
    assert status == 200 and "Sunset" in headers
    status, _, headers = await platform.request("GET", "/api/projects")
    assert status == 401 and "Deprecation" in headers, "even a refusal tells old clients to move"
    status, _, headers = await platform.request("GET", "/api/v2/projects", account=account)
    assert status == 200 and "Deprecation" not in headers and "Sunset" not in headers


async def test_errors_come_in_the_callers_language(platform: Platform) -> None:
    owner, viewer = await platform.signup("owner"), await platform.signup("viewer")
    project_id = await platform.project_with_team(owner, viewer=viewer)
    german = {"Accept-Language": "de-CH, de;q=0.9, en;q=0.5"}
    status, body, _ = await platform.request("PATCH", f"/api/v2/projects/{project_id}",
                                             headers={**viewer.headers, **german}, json={"name": "nope"})
    assert status == 403 and body["detail"] == "Sie haben keinen Zugriff auf dieses Projekt"
    status, body, _ = await platform.request("PATCH", f"/api/v2/projects/{project_id}", account=viewer,
                                             json={"name": "nope"})
    assert body["detail"] == "You don't have access to this project"
    status, body, _ = await platform.request("GET", f"/api/v2/projects/{uuid.uuid4()}",
                                             headers={**owner.headers, **german})
    assert status == 404 and body["code"] == "project_not_found"
    assert body["detail"] == "Das Projekt wurde nicht gefunden."
    status, body, _ = await platform.request("POST", "/api/v2/projects", headers={**owner.headers, **german},
                                             json={"name": "", "colour": "red"})
    assert status == 422 and body["detail"] == "Mindestens ein Feld ist ungültig."
    messages = {error["field"]: error["message"] for error in body["errors"]}
    assert messages == {"name": "Muss mindestens 1 Zeichen lang sein.", "colour": "Dieses Feld ist nicht erlaubt."}
    status, body, _ = await platform.request("GET", "/api/v2/projects?limit=1000",
                                             headers={**owner.headers, **german})
    assert status == 422 and body["errors"] == [{"field": "query.limit", "code": "less_than_equal",
                                                 "message": "Darf höchstens 100 sein."}]
    status, body, _ = await platform.request("GET", "/api/v2/nowhere", headers={"Accept-Language": "fr, de;q=0.2"})
    assert body["detail"] == "Die Ressource wurde nicht gefunden.", "first language we have, by preference"
    status, body, _ = await platform.request("GET", "/api/v2/nowhere", headers={"Accept-Language": "fr;q=1, *;q=0.1"})
    assert body["detail"] == "Not Found"
