"""Small helpers shared by the HTTP routes."""

from __future__ import annotations

import uuid

from aiohttp import web
from pydantic import BaseModel

from platform_common.errors import NotFound
from projects.domain.permissions import project_not_found


def path_uuid(request: web.Request, name: str) -> uuid.UUID:
    """A UUID path segment; anything else names nothing, so it is a 404 like an unknown id."""
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        if name == "project_id":
            raise project_not_found() from None
        raise NotFound("The resource was not found.", code="not_found") from None


def json_response(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(text=model.model_dump_json(), status=status, content_type="application/json")


def raw_json(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json")
