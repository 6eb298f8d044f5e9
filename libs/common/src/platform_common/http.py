"""The aiohttp app factory every service starts from: errors as problem+json, request ids, tracing,
RED metrics, and /healthz, /readyz, /metrics; and the runner serving it, which answers aiohttp's own protocol
errors the same way."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_exceptions import LineTooLong
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

INTERNAL_ERROR_DETAIL = "Something went wrong on our side. Quote the trace id when reporting it."
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
    body = _problem_document(request.app, request, status=status, code=code, title=title, detail=detail,
                             errors=errors, params=params)
    return web.Response(status=status, body=body, content_type=PROBLEM_CONTENT_TYPE, headers=headers)


def _problem_document(app: web.Application, request: web.Request, *, status: int, code: str, title: str,
                      detail: str, errors: list[dict[str, Any]] | None = None,
                      params: dict[str, Any] | None = None) -> str:
    translate = app.get(TRANSLATOR)
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
    return json.dumps(body)


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
                                detail=INTERNAL_ERROR_DETAIL)


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


# aiohttp answers a request it cannot parse (bad request line, method, version or header name, a line over
# 8190 bytes, more than 128 headers, TLS on the plain port, ...) and an exception escaping every middleware from
# RequestHandler.handle_error, as text/plain that names aiohttp and echoes the bad bytes. No supported hook reaches
# it in aiohttp 3.14: middlewares never run, on_response_prepare is only sent for requests the router matched
# (aiohttp#6463), handler_args only reach RequestHandler's constructor, and web.Server.__call__ hard-codes the
# RequestHandler class. So ProblemAppRunner (what services are served by, see `serve`) swaps in a subclass whose
# handle_error answers like problem_middleware and sends the app's on_response_prepare (the gateway's security
# headers). It relies on AppRunner._make_server and Server._kwargs/_loop: re-check them when upgrading aiohttp.
_PROTOCOL_ERRORS = {  # status: (code, title, detail)
    400: ("bad_request", "Bad Request", "The request is not well-formed HTTP."),
    500: ("internal_error", "Internal error", INTERNAL_ERROR_DETAIL),
    504: ("upstream_unavailable", "Gateway Timeout", "A service did not answer in time. Please try again shortly."),
}


class _ProtocolErrorResponse(web.Response):
    """A problem document that sends the app's on_response_prepare itself, as aiohttp does for routed requests."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._signalled_app = app

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        if not self.prepared and isinstance(request, web.Request):
            await self._signalled_app.on_response_prepare.send(request, self)
        return await super().prepare(request)


def _protocol_problem(app: web.Application, request: web.Request, status: int,
                      error: BaseException | None) -> web.Response:
    phrase = HTTPStatus(status).phrase
    code, title, detail = _PROTOCOL_ERRORS.get(status, (_HTTP_CODES.get(status, "http_error"), phrase, phrase))
    if isinstance(error, LineTooLong):
        detail = f"A line of the request (the request line or a header) is longer than {error.args[1]} bytes."
    request_id = request.setdefault(REQUEST_ID, str(uuid.uuid4()))  # set when request_id_middleware ran
    body = _problem_document(app, request, status=status, code=code, title=title, detail=detail)
    response = _ProtocolErrorResponse(app, status=status, body=body, content_type=PROBLEM_CONTENT_TYPE,
                                      headers={REQUEST_ID_HEADER: request_id})
    response.force_close()
    return response


class _ProblemRequestHandler(web.RequestHandler):
    __slots__ = ("_problem_app",)

    def __init__(self, manager: _ProblemServer, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._problem_app = manager.app

    def handle_error(self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        # aiohttp's own first: it logs the error and raises ConnectionError when a response has already started.
        plain = super().handle_error(request, status, exc, message)
        if not isinstance(request, web.Request):
            return plain
        return _protocol_problem(self._problem_app, request, status, exc)


class _ProblemServer(web.Server):
    def __init__(self, app: web.Application, handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]],
                 **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.app = app

    def __call__(self) -> web.RequestHandler:
        return _ProblemRequestHandler(self, loop=self._loop, **self._kwargs)


class ProblemAppRunner(web.AppRunner):
    """web.AppRunner whose connections answer aiohttp's own protocol errors as problem documents."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()  # starts and freezes the app, as AppRunner does
        return _ProblemServer(self.app, server.request_handler, request_factory=server.request_factory,
                              handler_cancellation=server.handler_cancellation, **server._kwargs)


async def serve(app: web.Application, *, host: str, port: int, shutdown_timeout: float) -> None:
    """Serve `app` through ProblemAppRunner (web.run_app always builds a plain AppRunner) until SIGTERM or SIGINT,
    then shut down gracefully and return."""
    runner = ProblemAppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    # A signal sets an event instead of raising GracefulExit out of the event loop (AppRunner's handle_signals):
    # asyncio.run would then cancel every task at once, Kafka consumers included, before the app's cleanup
    # contexts could drain them. Here the cleanup runs while those tasks still run, as in web.run_app.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await web.TCPSite(runner, host, port).start()
        await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await runner.cleanup()
