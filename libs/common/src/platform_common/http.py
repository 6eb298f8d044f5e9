"""The aiohttp app factory every service starts from: errors as problem+json, request ids, tracing,
RED metrics, and /healthz, /readyz, /metrics."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from platform_common.errors import DomainError, RateLimited, ValidationFailed
from platform_common.health import health_of
from platform_common.metrics import HTTP_DURATION
from platform_common.telemetry import tracer

log = logging.getLogger(__name__)
_tracer = tracer(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
REQUEST_ID_HEADER = "X-Request-ID"
SERVICE_NAME = web.AppKey("service_name", str)
REQUEST_ID = web.RequestKey("request_id", str)

# Hook for the gateway's translated messages: (request, code, default message, params) -> message.
Translator = Callable[[web.Request, str, str, dict[str, Any]], str]
TRANSLATOR: web.AppKey[Translator] = web.AppKey("translator")

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
               422: "validation_failed", 429: "rate_limited"}


def route_template(request: web.Request) -> str:
    """The matched route's template (low cardinality), or 'unmatched'."""
    info = request.match_info
    route = info.route if info is not None else None
    resource = getattr(route, "resource", None)
    return resource.canonical if resource is not None else "unmatched"


def problem_response(request: web.Request, *, status: int, code: str, title: str, detail: str,
                     errors: list[dict[str, Any]] | None = None, params: dict[str, Any] | None = None,
                     headers: dict[str, str] | None = None) -> web.Response:
    """An RFC 9457 problem document with our stable `code`, the trace id and the request id."""
    translate = request.app.get(TRANSLATOR)
    if translate is not None:
        detail = translate(request, code, detail, params or {})
    context = trace.get_current_span().get_span_context()
    body: dict[str, Any] = {
        "type": f"urn:recon:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path,
        "code": code,
        "request_id": request.get(REQUEST_ID),
    }
    if context.is_valid:
        body["trace_id"] = format(context.trace_id, "032x")
    if errors:
        body["errors"] = errors
    return web.Response(status=status, body=json.dumps(body), content_type=PROBLEM_CONTENT_TYPE,
                        headers=headers)


def _field_errors(error: ValidationError) -> list[dict[str, Any]]:
    return [{"field": ".".join(str(p) for p in item["loc"]), "code": item["type"], "message": item["msg"]}
            for item in error.errors()]


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    request[REQUEST_ID] = incoming if 0 < len(incoming) <= 128 and incoming.isprintable() else str(uuid.uuid4())
    response = await handler(request)
    response.headers[REQUEST_ID_HEADER] = request[REQUEST_ID]
    return response


@web.middleware
async def telemetry_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A SERVER span continuing the caller's trace, and the request-duration histogram."""
    started = time.perf_counter()
    parent = propagate.extract(dict(request.headers))
    route = route_template(request)
    status = 500
    with _tracer.start_as_current_span(f"{request.method} {route}", context=parent, kind=SpanKind.SERVER) as span:
        span.set_attribute("http.request.method", request.method)
        span.set_attribute("http.route", route)
        span.set_attribute("url.path", request.path)
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            if route not in ("/metrics", "/healthz", "/readyz"):
                HTTP_DURATION.labels(request.app[SERVICE_NAME], request.method, route,
                                     str(status)).observe(time.perf_counter() - started)


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure leaves as problem+json; internals (stack traces, SQL) never leave the process."""
    try:
        return await handler(request)
    except RateLimited as error:
        return problem_response(request, status=error.http_status, code=error.code, title=error.title,
                                detail=error.detail, params=error.params,
                                headers={"Retry-After": str(error.retry_after_s)})
    except ValidationFailed as error:
        return problem_response(request, status=error.http_status, code=error.code, title=error.title,
                                detail=error.detail, errors=error.errors, params=error.params)
    except DomainError as error:
        return problem_response(request, status=error.http_status, code=error.code, title=error.title,
                                detail=error.detail, params=error.params)
    except ValidationError as error:
        return problem_response(request, status=422, code="validation_failed", title="The request is not valid",
                                detail="One or more fields are invalid.", errors=_field_errors(error))
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = _HTTP_CODES.get(error.status, "http_error")
        return problem_response(request, status=error.status, code=code, title=error.reason,
                                detail=error.text if error.text and not error.text.startswith(str(error.status))
                                else error.reason, headers=_passthrough_headers(error))
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        trace.get_current_span().set_status(Status(StatusCode.ERROR, "unhandled"))
        return problem_response(request, status=500, code="internal_error", title="Internal error",
                                detail="Something went wrong on our side. Quote the trace id when reporting it.")


def _passthrough_headers(error: web.HTTPException) -> dict[str, str]:
    return {k: v for k, v in error.headers.items() if k in ("Allow", "Retry-After")}


async def healthz(request: web.Request) -> web.Response:
    checks = health_of(request.app).check_alive()
    ok = all(value == "ok" for value in checks.values())
    return web.json_response({"status": "ok" if ok else "stalled", "checks": checks}, status=200 if ok else 503)


async def readyz(request: web.Request) -> web.Response:
    checks = await health_of(request.app).check_ready()
    ok = all(value == "ok" for value in checks.values())
    return web.json_response({"status": "ready" if ok else "not_ready", "checks": checks},
                             status=200 if ok else 503)


async def metrics(_: web.Request) -> web.Response:
    response = web.Response(body=generate_latest())
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response


def create_base_app(service: str, *, max_body_bytes: int = 1_048_576,
                    middlewares: list[Callable[..., Awaitable[web.StreamResponse]]] | None = None) -> web.Application:
    """An application with the platform's middlewares and operational routes; services add the rest."""
    app = web.Application(
        client_max_size=max_body_bytes,
        middlewares=[request_id_middleware, telemetry_middleware, problem_middleware, *(middlewares or [])],
    )
    app[SERVICE_NAME] = service
    health_of(app)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app
