"""JSON and problem+json responses shared by the routes."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from files.adapters.projects_client import CallerDirectory
from files.keys import PROJECTS
from platform_common.access import BEARER_TOKEN
from platform_common.errors import NotFound
from platform_common.http import TRANSLATOR, problem_response


def _default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_default)


def json_response(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers, dumps=dumps)


def problem_with(request: web.Request, *, status: int, code: str, title: str, detail: str,
                 extra: dict[str, Any], headers: dict[str, str] | None = None,
                 params: dict[str, Any] | None = None) -> web.Response:
    """A problem document with extension members (RFC 9457 section 3.2), e.g. the rejected file's id."""
    response = problem_response(request, status=status, code=code, title=title, detail=detail, headers=headers,
                                params=params)
    assert response.text is not None
    body = json.loads(response.text)
    body.update(extra)
    response.text = dumps(body)
    return response


def message_params(item: dict[str, Any]) -> dict[str, Any]:
    """What a translated message may name: a stored problem's params, a row error's line, column and value."""
    named = {key: item[key] for key in ("line", "column", "raw_value") if item.get(key) is not None}
    return {**(item.get("params") or {}), **named}


def in_callers_language(request: web.Request, item: dict[str, Any]) -> dict[str, Any]:
    """A stored problem or row error with its message in the caller's language (Accept-Language); the code and
    everything else stay as stored. Stored messages are English, the source language."""
    translate = request.app.get(TRANSLATOR)
    if translate is None:
        return item
    return {**item, "message": translate(request, item["code"], item["message"], message_params(item))}


def all_in_callers_language(request: web.Request, items: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [in_callers_language(request, item) for item in items or []]


def path_uuid(request: web.Request, name: str, *, code: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise NotFound(f"No such {name.removesuffix('_id').replace('_', ' ')}.", code=code) from None


def directory(request: web.Request) -> CallerDirectory:
    """The projects service's data sources, asked with the caller's own identity token."""
    return request.app[PROJECTS].for_caller(request[BEARER_TOKEN])
