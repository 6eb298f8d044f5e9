"""OpenAPI 3.1 document of the public API, generated from the route table and the pydantic models the
services validate with. `python -m gateway.api.openapi > docs/openapi.json` refreshes the checked-in copy."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from gateway.api.routes import OPENAPI_PATH, OPERATIONS, Operation
from gateway.api.schemas import Problem

_REF = "#/components/schemas/{model}"
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad request", 401: "Not signed in, or the token is "
            "expired, tampered with or revoked", 403: "Signed in, but your role does not allow this",
            404: "Not found, or not visible to you (non-members see 404, never 403)", 409: "Conflicts with the "
            "current state", 413: "Body too large", 415: "Unsupported content type", 422: "Invalid fields "
            "(see `errors`)", 429: "Rate limited: retry after `Retry-After` seconds", 500: "Internal error "
            "(no internals disclosed; quote `trace_id`)", 503: "A service did not answer in time"}


def _models() -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    seen: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(Problem, "serialization"): None}
    for op in OPERATIONS:
        for model, mode in ((op.body, "validation"), (op.query, "validation"), (op.response, "serialization")):
            if model is not None:
                seen[(model, mode)] = None  # type: ignore[index]
    return list(seen)


def _problem(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {"description": _REASONS.get(status, "Error"),
                                "content": {"application/problem+json": {"schema": {"$ref": _REF.format(
                                    model="Problem")}}}}
    if status == 429:
        response["headers"] = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    return response


def _parameters(op: Operation, defs: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
        for name in op.path_params
    ]
    if op.query is not None:
        schema = defs[op.query.__name__]
        required = set(schema.get("required", []))
        for name, prop in schema["properties"].items():
            entry = {"name": name, "in": "query", "required": name in required, "schema": _without_null(prop)}
            if "description" in prop:
                entry["description"] = prop["description"]
            params.append(entry)
    params.append({"name": "Accept-Language", "in": "header", "required": False,
                   "description": "Language of problem messages (en, de)", "schema": {"type": "string"}})
    return params


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a value; JSON null has no spelling in a query string."""
    options = [option for option in schema.get("anyOf", []) if option != {"type": "null"}]
    if len(options) != 1:
        return schema
    rest = {key: value for key, value in schema.items() if key not in ("anyOf", "default")}
    return {**options[0], **rest}


def _operation(op: Operation, names: Mapping[tuple[Any, JsonSchemaMode], dict[str, Any]],
               defs: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary, "tags": [op.tag],
                           "parameters": _parameters(op, defs),
                           "security": [] if op.public else [{"bearerAuth": []}]}
    if op.description:
        doc["description"] = op.description
    if op.deprecated:
        doc["deprecated"] = True
    if op.body is not None:
        doc["requestBody"] = {"required": True, "content": {op.request_content_type: {
            "schema": names[(op.body, "validation")]}}}
    elif op.request_schema is not None:
        doc["requestBody"] = {"required": True, "content": {op.request_content_type: {"schema": op.request_schema}}}
    elif op.stream_request:
        doc["requestBody"] = {"required": True, "content": {op.request_content_type: {"schema": {
            "type": "object", "properties": {"file": {"type": "string", "contentMediaType":
                                                       "application/octet-stream"}}}}}}
    success: dict[str, Any] = {"description": _REASONS[op.status]}
    schema = names[(op.response, "serialization")] if op.response is not None else op.response_schema
    if schema is not None and op.status != 204:
        success["content"] = {"application/json": {"schema": schema}}
    if op.deprecated:
        success["headers"] = {name: {"schema": {"type": "string"}, "description": text} for name, text in (
            ("Deprecation", "RFC 9745: when this path was deprecated"), ("Sunset", "RFC 8594: when it stops working"),
            ("Link", "rel=successor-version: the path to use instead"))}
    statuses = sorted({*op.errors, 500, *((503,) if op.upstream or not op.public else ())})
    doc["responses"] = {str(op.status): success, **{str(s): _problem(s) for s in statuses}}
    return doc


def build_document() -> dict[str, Any]:
    """The whole document, deterministic so the checked-in copy can be compared byte for byte."""
    names, top = models_json_schema(_models(), ref_template=_REF)
    defs: dict[str, Any] = top.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, names, defs)
    paths[OPENAPI_PATH] = {"get": {"operationId": "getOpenApi", "summary": "This document", "tags": ["meta"],
                                   "security": [], "responses": {"200": {
                                       "description": "OpenAPI 3.1", "content": {"application/json": {
                                           "schema": {"type": "object"}}}}, "500": _problem(500)}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Reconciliation platform API", "version": "2.0.0",
                 "description": "The public API behind the gateway. Errors are RFC 9457 problem documents with a "
                                "stable `code`, a message in the caller's language (`Accept-Language`: en, de) "
                                "and the `trace_id`. `/api/v2` is current; the seed's `/api/...` paths still "
                                "answer, with `Deprecation` and `Sunset` headers."},
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def render() -> str:
    return json.dumps(build_document(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
