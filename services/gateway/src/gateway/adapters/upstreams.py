"""Calls to the domain services: one pooled session, per-call timeouts, trace context and the caller's
signed identity forwarded; request and response bodies streamed when they are large."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web
from opentelemetry import propagate
from yarl import URL

from gateway.config import UpstreamSettings
from gateway.domain.limits import file_too_large
from platform_common.contracts.projects import ProjectAccess, Role
from platform_common.errors import DependencyUnavailable, PayloadTooLarge
from platform_common.http import REQUEST_ID, REQUEST_ID_HEADER

# Only these client headers travel on: never cookies, forwarding headers or anything a service might trust.
_FORWARD_REQUEST = ("accept", "accept-language", "content-type", "idempotency-key", "if-match", "if-none-match",
                    "range")
# Hop-by-hop headers (RFC 9110 §7.6.1) and ones the gateway sets itself are never relayed back.
_DROP_RESPONSE = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "server",
                  "date", "set-cookie", "x-request-id"}
_BUFFER_LIMIT = 1024 * 1024
_CHUNK = 64 * 1024


class UpstreamClient:
    def __init__(self, session: aiohttp.ClientSession, settings: UpstreamSettings) -> None:
        self._session = session
        self._settings = settings
        self._bases = {"projects": str(settings.projects_url).rstrip("/"),
                       "files": str(settings.files_url).rstrip("/"),
                       "results": str(settings.results_url).rstrip("/")}

    async def forward(self, request: web.Request, service: str, path: str, *, identity_token: str,
                      body: bytes | None = None, stream_limit: int | None = None) -> web.StreamResponse:
        """Send the request on to `service` as the given identity and relay its answer.

        `body` replaces the client's body; `stream_limit` streams the client's body (uploads) up to that many
        bytes instead of buffering it. Failures to reach the service become a 503 problem.
        """
        headers = {name: value for name, value in request.headers.items()
                   if name.lower() in _FORWARD_REQUEST and _clean(value)}
        headers["Authorization"] = f"Bearer {identity_token}"
        headers[REQUEST_ID_HEADER] = request.get(REQUEST_ID, "")
        propagate.inject(headers)
        payload: object
        if body is not None:
            payload = body
        elif stream_limit is not None:
            payload = _limited(request, stream_limit)
        else:
            payload = await request.read() if request.can_read_body else None
        timeout = aiohttp.ClientTimeout(
            total=self._settings.upload_timeout_s if stream_limit is not None else self._settings.timeout_s,
            connect=self._settings.connect_timeout_s, sock_read=self._settings.timeout_s,
        )
        # The client's query string as it arrived: decoding and re-encoding it could only change it.
        url = URL(self._bases[service] + path + (f"?{request.rel_url.raw_query_string}"
                                                if request.rel_url.raw_query_string else ""),
                  encoded=True)
        try:
            async with self._session.request(request.method, url, headers=headers,
                                             data=payload, timeout=timeout, allow_redirects=False) as upstream:
                return await _relay(request, upstream)
        except PayloadTooLarge:
            raise
        except (aiohttp.ClientError, TimeoutError) as error:
            if isinstance(error.__cause__, PayloadTooLarge):
                raise error.__cause__ from None
            raise DependencyUnavailable(f"The {service} service did not answer in time.",
                                        code="upstream_unavailable", service=service) from error

    async def project_role(self, request: web.Request, project_id: uuid.UUID, *, identity_token: str) -> Role | None:
        """The caller's role in the project as projects sees it; None for a non-member or unknown project."""
        headers = {"Authorization": f"Bearer {identity_token}", REQUEST_ID_HEADER: request.get(REQUEST_ID, "")}
        propagate.inject(headers)
        url = f"{self._bases['projects']}/v1/projects/{project_id}/access"
        timeout = aiohttp.ClientTimeout(total=self._settings.timeout_s, connect=self._settings.connect_timeout_s)
        try:
            async with self._session.get(url, headers=headers, timeout=timeout) as upstream:
                if upstream.status == 404:
                    return None
                if upstream.status == 200:
                    return ProjectAccess.model_validate_json(await upstream.read()).role
        except (aiohttp.ClientError, TimeoutError) as error:
            raise DependencyUnavailable("The projects service did not answer in time.",
                                        code="upstream_unavailable", service="projects") from error
        raise DependencyUnavailable("The projects service could not confirm access.", code="upstream_unavailable",
                                    service="projects")


def _clean(value: str) -> bool:
    """Printable ASCII only: non-ASCII bytes arrive decoded as Latin-1, which can yield control characters
    that must never be written into a request to a service (header injection)."""
    return value.isascii() and value.isprintable()


async def _relay(request: web.Request, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
    headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _DROP_RESPONSE}
    if upstream.content_length is not None and upstream.content_length <= _BUFFER_LIMIT:
        return web.Response(status=upstream.status, body=await upstream.read(), headers=headers)
    # Large or open-ended (exports): pass it through chunk by chunk rather than hold it in memory.
    response = web.StreamResponse(status=upstream.status, headers=headers)
    await response.prepare(request)
    async for chunk in upstream.content.iter_chunked(_CHUNK):
        await response.write(chunk)
    await response.write_eof()
    return response


async def _limited(request: web.Request, limit: int) -> AsyncIterator[bytes]:
    sent = 0
    async for chunk in request.content.iter_chunked(_CHUNK):
        sent += len(chunk)
        if sent > limit:
            raise file_too_large(limit)
        yield chunk


UPSTREAMS = web.AppKey("upstreams", UpstreamClient)


def upstreams_ctx(settings: UpstreamSettings) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=200, limit_per_host=100, keepalive_timeout=30)
        async with aiohttp.ClientSession(connector=connector) as session:
            app[UPSTREAMS] = UpstreamClient(session, settings)
            yield

    return context
