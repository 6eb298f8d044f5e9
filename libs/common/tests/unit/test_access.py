"""A domain service's side of authorization: identity only from the gateway's signed token, project roles
asked of the projects service (briefly cached), non-members told nothing exists."""

from __future__ import annotations

import uuid

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from platform_common.access import (
    PROJECT_ACCESS,
    FixedProjectRoles,
    identity_of,
    install_service_auth,
    require_project_role,
)
from platform_common.auth import Identity, InternalTokens, ServiceAuthSettings
from platform_common.contracts.projects import Role
from platform_common.errors import NotFound
from platform_common.http import create_base_app
from platform_common.settings import Environment

KEY = "k" * 40
OWNER, VIEWER, STRANGER = (Identity(uuid.uuid4(), f"{n}@example.com") for n in ("owner", "viewer", "stranger"))
PROJECT = uuid.uuid4()


def service(settings: ServiceAuthSettings, *, roles: FixedProjectRoles | None = None) -> web.Application:
    async def scoped(request: web.Request) -> web.Response:
        return web.json_response({"caller": str(identity_of(request).user_id)})

    async def by_resource(request: web.Request) -> web.Response:
        await require_project_role(request, PROJECT, Role.VIEWER, not_found=NotFound(code="thing_not_found"))
        return web.json_response({"ok": True})

    app = create_base_app("unit")
    install_service_auth(app, settings, environment=Environment.TEST, setting_name="UNIT_AUTH__INTERNAL_KEY")
    if roles is not None:
        app[PROJECT_ACCESS] = roles
    app.router.add_get("/v1/projects/{project_id}/things", scoped)
    app.router.add_post("/v1/projects/{project_id}/things", scoped)
    app.router.add_get("/v1/things/1", by_resource)
    return app


def bearer(identity: Identity) -> dict[str, str]:
    return {"Authorization": f"Bearer {InternalTokens(KEY.encode()).mint(identity)}"}


async def test_identity_comes_only_from_a_valid_signed_token() -> None:
    roles = FixedProjectRoles({(OWNER.user_id, PROJECT): Role.OWNER})
    async with TestClient(TestServer(service(ServiceAuthSettings(internal_key=SecretStr(KEY)), roles=roles))) as c:
        path = f"/v1/projects/{PROJECT}/things"
        assert (await c.get(path, headers=bearer(OWNER))).status == 200
        for headers in ({}, {"X-User-ID": str(OWNER.user_id)}, {"Authorization": "Bearer nope"},
                        {"Authorization": f"Bearer {InternalTokens(b'x' * 32).mint(OWNER)}"}):
            response = await c.get(path, headers=headers)
            assert response.status == 401, headers
        assert (await c.get("/healthz")).status == 200


async def test_project_routes_check_the_role_and_hide_projects_from_strangers() -> None:
    roles = FixedProjectRoles({(OWNER.user_id, PROJECT): Role.OWNER, (VIEWER.user_id, PROJECT): Role.VIEWER})
    async with TestClient(TestServer(service(ServiceAuthSettings(internal_key=SecretStr(KEY)), roles=roles))) as c:
        path = f"/v1/projects/{PROJECT}/things"
        assert (await c.post(path, headers=bearer(OWNER))).status == 200
        assert (await c.get(path, headers=bearer(VIEWER))).status == 200
        denied = await c.post(path, headers=bearer(VIEWER))
        assert denied.status == 403
        assert (await denied.json())["detail"] == "You don't have access to this project"
        hidden = await c.get(path, headers=bearer(STRANGER))
        assert hidden.status == 404 and (await hidden.json())["code"] == "project_not_found"
        assert (await c.get("/v1/projects/not-a-uuid/things", headers=bearer(OWNER))).status == 404
        hidden = await c.get("/v1/things/1", headers=bearer(STRANGER))
        assert hidden.status == 404 and (await hidden.json())["code"] == "thing_not_found"


async def test_roles_come_from_the_projects_service_and_are_cached_briefly() -> None:
    calls: list[str] = []

    async def access(request: web.Request) -> web.Response:
        caller = InternalTokens(KEY.encode()).verify(request.headers["Authorization"].split()[1])
        calls.append(str(caller.user_id))
        if request.match_info["project_id"] == "00000000-0000-0000-0000-000000000000":
            return web.json_response({"code": "boom"}, status=500)
        if caller.user_id == OWNER.user_id:
            return web.json_response({"project_id": request.match_info["project_id"], "role": "owner"})
        return web.json_response({"code": "project_not_found"}, status=404)

    projects = web.Application()
    projects.router.add_get("/v1/projects/{project_id}/access", access)
    async with TestClient(TestServer(projects)) as fake_projects:
        settings = ServiceAuthSettings(internal_key=SecretStr(KEY), projects_url=str(fake_projects.make_url("")),
                                       access_cache_ttl_s=30)
        async with TestClient(TestServer(service(settings))) as c:
            path = f"/v1/projects/{PROJECT}/things"
            for _ in range(3):
                assert (await c.post(path, headers=bearer(OWNER))).status == 200
            assert (await c.get(path, headers=bearer(STRANGER))).status == 404
            assert calls == [str(OWNER.user_id), str(STRANGER.user_id)], "one question per caller and project"
            broken = await c.get("/v1/projects/00000000-0000-0000-0000-000000000000/things", headers=bearer(OWNER))
            assert broken.status == 503 and (await broken.json())["code"] == "upstream_unavailable"
