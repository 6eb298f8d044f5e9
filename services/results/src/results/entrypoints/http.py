"""HTTP routes of the results service."""

from __future__ import annotations

import functools
import json
import uuid

from aiohttp import web

from platform_common.access import require_project_role
from platform_common.contracts.projects import Role
from platform_common.errors import NotFound
from platform_common.keys import PG_POOL
from results.service_layer import handlers


async def job_results(request: web.Request) -> web.Response:
    try:
        job_id = uuid.UUID(request.match_info["job_id"])
    except ValueError:
        raise NotFound("No results exist for this job.", code="results_not_found") from None
    summary = await handlers.job_summary(request.app[PG_POOL], job_id)
    await require_project_role(request, summary["project_id"], Role.VIEWER,
                               not_found=NotFound("No results exist for this job yet.", code="results_not_found"))
    return web.json_response(summary, dumps=functools.partial(json.dumps, default=str))


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/v1/jobs/{job_id}/results", job_results)
