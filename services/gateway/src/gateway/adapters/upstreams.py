"""Calls to the domain services: one pooled session, per-call timeouts, trace context forwarded."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web
from opentelemetry import propagate

from gateway.config import UpstreamSettings
from platform_common.errors import DependencyUnavailable

# Hop-by-hop headers (RFC 9110 §7.6.1) and ones the gateway sets itself are never forwarded.
_DROP_REQUEST = {"host", "connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-authorization",
                 "content-length", "traceparent", "tracestate", "baggage"}
_DROP_RESPONSE = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "server",
                  "date"}


class UpstreamClient:
    def __init__(self, session: aiohttp.ClientSession, settings: UpstreamSettings) -> None:
        self._session = session
        self._settings = settings
        self._bases = {"projects": str(settings.projects_url).rstrip("/"),
                       "files": str(settings.files_url).rstrip("/"),
                       "results": str(settings.results_url).rstrip("/")}

    async def forward(self, request: web.Request, service: str, path: str) -> web.Response:
        """Send the request on to `service` and relay its answer; failures become a 503 problem."""
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP_REQUEST}
        propagate.inject(headers)
        url = self._bases[service] + path
        timeout = aiohttp.ClientTimeout(total=self._settings.timeout_s, connect=self._settings.connect_timeout_s)
        try:
            async with self._session.request(request.method, url, params=request.query, headers=headers,
                                             data=await request.read() if request.can_read_body else None,
                                             timeout=timeout, allow_redirects=False) as upstream:
                body = await upstream.read()
                out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _DROP_RESPONSE}
                return web.Response(status=upstream.status, body=body, headers=out_headers)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise DependencyUnavailable(f"The {service} service did not answer in time.",
                                        code="upstream_unavailable", service=service) from error


UPSTREAMS = web.AppKey("upstreams", UpstreamClient)


def upstreams_ctx(settings: UpstreamSettings) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=200, limit_per_host=100, keepalive_timeout=30)
        async with aiohttp.ClientSession(connector=connector) as session:
            app[UPSTREAMS] = UpstreamClient(session, settings)
            yield

    return context
