"""The gateway's router: every operation of the API table behind its guards, plus the OpenAPI document."""

from __future__ import annotations

from aiohttp import web

from gateway.api.routes import OPENAPI_PATH, OPERATIONS, Operation
from gateway.entrypoints import auth_routes, proxy
from gateway.entrypoints.context import OPENAPI_DOCUMENT
from gateway.entrypoints.guards import Handler, guarded

_LOCAL: dict[str, Handler] = {
    "register": auth_routes.register,
    "login": auth_routes.login,
    "refresh": auth_routes.refresh,
    "logout": auth_routes.logout,
    "me": auth_routes.me,
}


def _handler(op: Operation) -> Handler:
    if op.operation_id == "addMember":
        return proxy.add_member(op)
    if op.upstream is not None:
        return proxy.forward(op)
    return _LOCAL[op.operation_id]


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI_DOCUMENT], content_type="application/json",
                        headers={"Cache-Control": "public, max-age=300"})


def setup_routes(app: web.Application) -> None:
    for op in OPERATIONS:
        app.router.add_route(op.method, op.path, guarded(op, _handler(op)))
    app.router.add_get(OPENAPI_PATH, openapi)
