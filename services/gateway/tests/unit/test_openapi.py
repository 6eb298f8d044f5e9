"""The OpenAPI document: generated from the route table and the pydantic models, checked in, and true to
the router the gateway actually builds."""

from __future__ import annotations

from pathlib import Path

from gateway.api.openapi import build_document, render
from gateway.api.routes import OPENAPI_PATH, OPERATIONS
from gateway.app import create_app
from gateway.config import GatewaySettings

CHECKED_IN = Path(__file__).resolve().parents[4] / "docs" / "openapi.json"


def test_checked_in_openapi_document_is_current() -> None:
    assert CHECKED_IN.read_text() == render(), "regenerate: uv run python -m gateway.api.openapi > docs/openapi.json"


def test_document_shape() -> None:
    document = build_document()
    assert document["openapi"] == "3.1.0"
    ids = [op["operationId"] for path in document["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids)) == len(OPERATIONS) + 1
    for operation in (op for path in document["paths"].values() for op in path.values()):
        errors = {code: r for code, r in operation["responses"].items() if int(code) >= 400}
        assert "500" in errors
        for response in errors.values():
            assert response["content"]["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"}
        if operation["security"]:
            assert "401" in errors and "429" in errors
            assert errors["429"]["headers"]["Retry-After"]
    refs = {ref.split("/")[-1] for ref in _refs(document)}
    assert refs <= set(document["components"]["schemas"]), "every $ref resolves"
    legacy = document["paths"]["/api/projects"]["get"]
    assert legacy["deprecated"] is True and "Sunset" in legacy["responses"]["200"]["headers"]


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_the_router_serves_exactly_the_documented_operations() -> None:
    settings = GatewaySettings(environment="test", postgres={"dsn": "postgresql://x@127.0.0.1:1/x"},
                               redis={"url": "redis://127.0.0.1:1/0"},
                               auth={"jwt_secret": "j" * 32, "internal_key": "i" * 32})
    app = create_app(settings)
    served = {(route.method, route.resource.canonical) for route in app.router.routes()
              if route.resource is not None and route.method != "HEAD"}
    documented = {(method.upper(), path) for path, methods in build_document()["paths"].items() for method in methods}
    operational = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
    assert served - operational == documented
    assert ("GET", OPENAPI_PATH) in served
