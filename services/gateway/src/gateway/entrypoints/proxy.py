"""Routes the gateway forwards to the owning service, as the signed-in caller."""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

from aiohttp import web

from gateway.adapters.upstreams import UPSTREAMS
from gateway.api.routes import Operation
from gateway.entrypoints.context import ACCOUNTS, CALLER, SETTINGS
from gateway.entrypoints.guards import Handler
from platform_common.access import INTERNAL_TOKENS, NO_ACCESS
from platform_common.contracts.projects import MemberGrant, MemberInvite, Role
from platform_common.errors import Forbidden, NotFound
from platform_common.i18n import invalid_fields, parse_json_body


def _upstream_path(op: Operation, request: web.Request) -> str:
    assert op.upstream_path is not None
    return op.upstream_path.format(**{name: quote(request.match_info[name], safe="") for name in op.path_params})


def forward(op: Operation) -> Handler:
    assert op.upstream is not None
    service = op.upstream

    async def handler(request: web.Request) -> web.StreamResponse:
        token = request.app[INTERNAL_TOKENS].mint(request[CALLER])
        limit = request.app[SETTINGS].api.upload_max_bytes if op.stream_request else None
        return await request.app[UPSTREAMS].forward(request, service, _upstream_path(op, request),
                                                    identity_token=token, stream_limit=limit)

    return handler


def add_member(op: Operation) -> Handler:
    """Members are invited by email; the gateway owns accounts, so it resolves the address to an account and
    hands projects the account id. The caller's ownership is checked first, so only a project's owners can
    learn whether an address has an account."""

    async def handler(request: web.Request) -> web.StreamResponse:
        caller = request[CALLER]
        token = request.app[INTERNAL_TOKENS].mint(caller)
        project_id = uuid.UUID(request.match_info["project_id"])
        role = await request.app[UPSTREAMS].project_role(request, project_id, identity_token=token)
        if role is None:
            raise NotFound("The project was not found.", code="project_not_found")
        if role is not Role.OWNER:
            raise Forbidden(NO_ACCESS, code="project_forbidden")
        invite = await parse_json_body(request, MemberInvite)
        user = await request.app[ACCOUNTS].find_user(invite.email)
        if user is None:
            raise invalid_fields(request, [{"field": "email", "code": "user_not_found",
                                            "message": "No account uses this email address."}])
        grant = MemberGrant(user_id=user.id, email=user.email, role=invite.role)
        return await request.app[UPSTREAMS].forward(request, "projects", _upstream_path(op, request),
                                                    identity_token=token,
                                                    body=json.dumps(grant.model_dump(mode="json")).encode())

    return handler
