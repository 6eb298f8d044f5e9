"""Headers on every response the gateway sends, errors and unknown paths included: security policy, CORS for
the configured origins only, and deprecation notices on the seed's paths."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from email.utils import format_datetime

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.config import GatewaySettings
from gateway.entrypoints.context import OPERATION
from platform_common.errors import Forbidden

# An API serves JSON, never a page: nothing may load, frame or be framed.
CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
ALLOWED_METHODS = "GET, POST, PATCH, DELETE"
ALLOWED_HEADERS = "Authorization, Content-Type, Accept-Language, X-Request-ID, Idempotency-Key"
EXPOSED_HEADERS = "Retry-After, X-Request-ID, Deprecation, Sunset, Link, Location"

OnPrepare = Callable[[web.Request, web.StreamResponse], Awaitable[None]]


def response_headers(settings: GatewaySettings) -> OnPrepare:
    allowed = frozenset(settings.cors.allowed_origins)
    fixed = {
        "Content-Security-Policy": CSP,
        "Strict-Transport-Security": f"max-age={settings.api.hsts_max_age_s}; includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Server": "recon-gateway",
    }
    deprecation = f"@{int(settings.api.v1_deprecated_at.timestamp())}"
    sunset = format_datetime(settings.api.v1_sunset_at, usegmt=True)

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        headers.update(fixed)
        headers.setdefault("Cache-Control", "no-store")
        headers.add("Vary", "Origin")
        origin = request.headers.get("Origin")
        if origin is not None and origin in allowed:
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        if response.status == 401:
            headers.setdefault("WWW-Authenticate", 'Bearer realm="recon"')
        operation = request.get(OPERATION)
        if operation is not None and operation.deprecated:
            headers["Deprecation"] = deprecation
            headers["Sunset"] = sunset
            if operation.successor:
                headers["Link"] = f'<{operation.successor}>; rel="successor-version"'

    return on_prepare


def cors_preflight(settings: GatewaySettings) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Answer CORS preflights for allowed origins; refuse the others (no wildcard, no credentials)."""
    allowed = frozenset(settings.cors.allowed_origins)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return await handler(request)
        origin = request.headers.get("Origin", "")
        if origin not in allowed:
            raise Forbidden("This origin may not call the API.", code="cors_origin_denied")
        return web.Response(status=204, headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ALLOWED_METHODS,
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": str(settings.cors.max_age_s),
        })

    return middleware
