"""The project list: search, filters, sorting, cursor pagination and per-project counts, in one SQL statement
whatever the page size."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from projects_harness import Replica, person

from platform_common.contracts.projects import ProjectListQuery
from projects.entrypoints.keys import DEPS
from projects.service_layer import projects
from projects.service_layer.deps import Deps

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


class CountingPool:
    """The service's pool, logging every statement run on the connections it hands out (and only those)."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self.statements: list[str] = []

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        async with self._pool.acquire() as conn:
            def log(record: Any) -> None:
                self.statements.append(record.query)

            conn.add_query_logger(log)
            try:
                yield conn
            finally:
                conn.remove_query_logger(log)


async def _page_all(service: Replica, caller: Any, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        status, page = await service.call("GET", "/v1/projects", caller, params=query)
        assert status == 200, page
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_a_page_with_counts_is_one_statement_whatever_its_size(service: Replica) -> None:
    owner, colleague = person("owner"), person("colleague")
    for index in range(60):
        project = await service.create_project(owner, f"bulk {index:02d}")
        if index % 3 == 0:
            await service.add(owner, project["id"], colleague, "viewer")
            await service.call("POST", f"/v1/projects/{project['id']}/data-sources", owner, json={"name": "bank"})
            await service.call("POST", f"/v1/projects/{project['id']}/jobs", owner,
                               json={"left_dataset_id": str(uuid.uuid4()), "right_dataset_id": str(uuid.uuid4())})
    deps = service.app[DEPS]
    counting = CountingPool(deps.pool)
    per_size = {}
    for limit in (1, 10, 50, 100):
        counting.statements.clear()
        raw = await projects.list_projects(Deps(pool=counting, cache=deps.cache), owner,  # type: ignore[arg-type]
                                           ProjectListQuery(limit=limit, sort="name"))
        page = json.loads(raw)
        assert len(page["items"]) == min(limit, 60)
        per_size[limit] = len(counting.statements)
    assert per_size == {1: 1, 10: 1, 50: 1, 100: 1}
    counted = [p for p in page["items"] if p["counts"]["members"] == 2]
    assert len(counted) == 20
    assert all(p["counts"] == {"members": 2, "data_sources": 1, "jobs": 1} for p in counted)
    assert all(p["role"] == "owner" for p in page["items"])
    status, over_http = await service.call("GET", "/v1/projects", owner, params={"limit": 100, "sort": "name"})
    assert status == 200 and over_http == page, "the route serves the same page (from the cache now)"


async def test_search_filters_and_sorting(service: Replica) -> None:
    owner, editor = person("owner"), person("editor")
    names = ["Bank Q1", "bank q2", "Cards 100%", "Cards_x", "Ledger"]
    created = {name: await service.create_project(owner, name) for name in names}
    await service.add(owner, created["Ledger"]["id"], editor, "editor")
    await service.call("POST", f"/v1/projects/{created['bank q2']['id']}/archive", owner)

    async def names_for(caller: Any = owner, **params: Any) -> list[str]:
        return [item["name"] for item in await _page_all(service, caller, **params)]

    assert await names_for(sort="name") == ["Bank Q1", "Cards 100%", "Cards_x", "Ledger"]
    assert await names_for(sort="-name") == ["Ledger", "Cards_x", "Cards 100%", "Bank Q1"]
    assert await names_for(sort="name", status="all") == ["Bank Q1", "bank q2", "Cards 100%", "Cards_x", "Ledger"]
    assert await names_for(status="archived") == ["bank q2"]
    assert await names_for(q="BANK", status="all", sort="name") == ["Bank Q1", "bank q2"]
    assert await names_for(q="%", sort="name") == ["Cards 100%"], "% is matched literally"
    assert await names_for(q="_", sort="name") == ["Cards_x"], "_ is matched literally"
    assert await names_for(sort="created_at") == ["Bank Q1", "Cards 100%", "Cards_x", "Ledger"]
    assert (await names_for(sort="-updated_at", status="all"))[0] == "bank q2", "archiving touched it last"
    assert await names_for(editor) == ["Ledger"]
    assert await names_for(owner, role="editor") == []
    assert await names_for(editor, role="editor") == ["Ledger"]


async def test_cursor_pagination_visits_every_project_once(service: Replica) -> None:
    owner = person("pager")
    for index in range(23):
        await service.create_project(owner, f"p{index % 5}")  # duplicate names: the id breaks ties
    for sort in ("name", "-name", "created_at", "-created_at", "updated_at", "-updated_at"):
        items = await _page_all(service, owner, sort=sort, limit=4)
        assert len(items) == 23 and len({item["id"] for item in items}) == 23, sort


async def test_bad_cursors_and_parameters_are_field_errors(service: Replica) -> None:
    owner = person("picky")
    for index in range(3):
        await service.create_project(owner, f"x{index}")
    status, page = await service.call("GET", "/v1/projects", owner, params={"limit": 1, "sort": "name"})
    cursor = page["next_cursor"]
    cases = [
        ({"cursor": cursor, "sort": "-created_at"}, "query.cursor", "invalid_cursor"),
        ({"cursor": "not-a-cursor"}, "query.cursor", "invalid_cursor"),
        ({"limit": "0"}, "query.limit", "greater_than_equal"),
        ({"sort": "size"}, "query.sort", "literal_error"),
        ({"role": "admin"}, "query.role", "enum"),
        ({"colour": "red"}, "query.colour", "extra_forbidden"),
    ]
    for params, field, code in cases:
        status, body = await service.call("GET", "/v1/projects", owner, params=params)
        assert status == 422, params
        assert [(e["field"], e["code"]) for e in body["errors"]] == [(field, code)], body
