"""Property: whatever arrives — malformed JSON, wrong types, unknown fields, odd path segments and query
strings, strange headers — every operation of the OpenAPI document answers with a 2xx-4xx, never a 5xx, and
every error is a problem document."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

import pytest
import pytest_asyncio
from gateway_harness import Account, Platform
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.api.openapi import build_document
from gateway.api.routes import OPERATIONS as ROUTE_TABLE

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

DOCUMENT = build_document()
# Served by files and results, which the in-process platform does not run: calls to them are a 503 by design.
ELSEWHERE = {op.operation_id for op in ROUTE_TABLE if op.upstream in ("files", "results")}
OPERATIONS = [
    (path, method.upper(), operation)
    for path, methods in DOCUMENT["paths"].items()
    for method, operation in methods.items()
    if operation["operationId"] not in ELSEWHERE
]

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=False), st.text(max_size=300))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=20), inner, max_size=4)), max_leaves=12)


def _field_names(operation: dict[str, Any]) -> list[str]:
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "")
    component = DOCUMENT["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
    return list(component.get("properties", {}))


@st.composite
def bodies(draw: st.DrawFn, operation: dict[str, Any]) -> bytes | None:
    fields = _field_names(operation)
    kind = draw(st.sampled_from(["none", "bytes", "json", "shaped"]))
    if kind == "none":
        return None
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "json" or not fields:
        return json.dumps(draw(json_values)).encode()
    # The right field names with values of any type: reaches the validators rather than the JSON parser.
    shaped = draw(st.dictionaries(st.sampled_from(fields), json_values, max_size=len(fields)))
    return json.dumps(shaped).encode()


@st.composite
def requests(draw: st.DrawFn, ids: dict[str, str]) -> tuple[str, str, dict[str, str], dict[str, str], bytes | None]:
    path, method, operation = draw(st.sampled_from(OPERATIONS))
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            name = parameter["name"]
            value = draw(st.one_of(st.just(ids.get(name, str(uuid.uuid4()))), st.text(min_size=1, max_size=40)))
            path = path.replace("{" + name + "}", quote(value, safe=""))
    query_names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    query = draw(st.dictionaries(st.one_of(st.sampled_from(query_names or ["x"]), st.text(min_size=1, max_size=10)),
                                 st.text(max_size=60), max_size=4))
    headers = draw(st.fixed_dictionaries({}, optional={
        "Accept-Language": st.text(max_size=60).filter(lambda v: v.isprintable()),
        "Content-Type": st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded",
                                         "application/json; charset=latin-1"]),
    }))
    return method, path, query, headers, draw(bodies(operation))


@pytest_asyncio.fixture(loop_scope="session")
async def owner_and_project(platform: Platform) -> tuple[Account, dict[str, str]]:
    owner = await platform.signup("fuzz")
    project_id = await platform.project_with_team(owner)
    status, job, _ = await platform.request("POST", f"/api/v2/projects/{project_id}/jobs", account=owner,
                                            json={"left_dataset_id": str(uuid.uuid4()),
                                                  "right_dataset_id": str(uuid.uuid4())})
    assert status == 201
    return owner, {"project_id": project_id, "job_id": job["id"], "user_id": owner.user_id}


async def test_the_document_lists_operations_to_fuzz() -> None:
    assert len(OPERATIONS) >= 20


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
async def test_no_input_makes_the_api_fail(platform: Platform, owner_and_project: tuple[Account, dict[str, str]],
                                           data: st.DataObject) -> None:
    owner, ids = owner_and_project
    method, path, query, headers, body = data.draw(requests(ids))
    status, answer, response_headers = await platform.request(method, path, params=query, data=body,
                                                              headers={**owner.headers, **headers})
    assert status < 500, (method, path, query, body, answer)
    if status >= 400:
        assert response_headers["Content-Type"].startswith("application/problem+json"), (method, path, query,
                                                                                          headers, body, answer)
        assert answer["code"] and answer["detail"]
