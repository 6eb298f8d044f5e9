"""Account routes, served by the gateway itself."""

from __future__ import annotations

from aiohttp import web

from gateway.domain.accounts import Credentials, LogoutRequest, RefreshRequest, Registration
from gateway.entrypoints.context import ACCOUNTS, CALLER
from gateway.entrypoints.guards import limit_per_account
from platform_common.i18n import parse_json_body


def _json(model_json: str, status: int = 200) -> web.Response:
    return web.Response(text=model_json, status=status, content_type="application/json")


async def register(request: web.Request) -> web.Response:
    registration = await parse_json_body(request, Registration)
    user = await request.app[ACCOUNTS].register(registration)
    return _json(user.model_dump_json(), status=201)


async def login(request: web.Request) -> web.Response:
    credentials = await parse_json_body(request, Credentials)
    await limit_per_account(request, credentials.email)
    tokens = await request.app[ACCOUNTS].login(credentials)
    return _json(tokens.model_dump_json())


async def refresh(request: web.Request) -> web.Response:
    body = await parse_json_body(request, RefreshRequest)
    tokens = await request.app[ACCOUNTS].refresh(body.refresh_token)
    return _json(tokens.model_dump_json())


async def logout(request: web.Request) -> web.Response:
    body = await parse_json_body(request, LogoutRequest)
    await request.app[ACCOUNTS].logout(body.refresh_token)
    return web.Response(status=204)


async def me(request: web.Request) -> web.Response:
    user = await request.app[ACCOUNTS].me(request[CALLER])
    return _json(user.model_dump_json())
