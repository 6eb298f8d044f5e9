"""HTTP routes of the files service."""

from __future__ import annotations

import functools
import json
import uuid

from aiohttp import web

from files.service_layer import handlers
from platform_common.errors import NotFound
from platform_common.keys import PG_POOL


async def get_file(request: web.Request) -> web.Response:
    try:
        file_id = uuid.UUID(request.match_info["file_id"])
    except ValueError:
        raise NotFound("The file was not found.", code="file_not_found") from None
    found = await handlers.get_file(request.app[PG_POOL], file_id)
    return web.json_response(found, dumps=functools.partial(json.dumps, default=str))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/v1/files/{file_id}", get_file)
