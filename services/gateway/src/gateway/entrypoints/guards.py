"""What every public route passes before it runs: size limits, authentication, rate limits."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.api.routes import Operation
from gateway.config import SERVICE
from gateway.domain.limits import file_too_large
from gateway.entrypoints.context import ACCOUNTS, CALLER, GUARDS, OPERATION, SETTINGS
from platform_common.access import bearer_token
from platform_common.auth import Identity, InvalidToken
from platform_common.errors import NotFound, PayloadTooLarge, RateLimited, Unauthorized
from platform_common.metrics import AUTH_FAILURES, RATE_LIMIT_REJECTIONS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def client_ip(request: web.Request, trusted_proxy_hops: int) -> str:
    """The client address; behind N trusted proxies, the N-th entry from the right of X-Forwarded-For."""
    if trusted_proxy_hops:
        hops = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
        if len(hops) >= trusted_proxy_hops:
            return hops[-trusted_proxy_hops]
    return request.remote or "unknown"


def too_many(scope: str, wait_s: int) -> RateLimited:
    RATE_LIMIT_REJECTIONS.labels(SERVICE, scope).inc()
    return RateLimited(f"Too many requests. Please wait {wait_s} seconds and try again.", retry_after_s=wait_s,
                       seconds=wait_s)


async def limit_per_account(request: web.Request, email: str) -> None:
    """Slow down guessing against one account, whatever addresses the guesses come from."""
    settings = request.app[SETTINGS].rate_limits
    subject = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    wait = await request.app[GUARDS].wait_before("login-account", subject, settings.login_per_account_per_minute,
                                                 fail_open=False)
    if wait:
        raise too_many("login_account", wait)


def _check_size(request: web.Request, op: Operation) -> None:
    settings = request.app[SETTINGS]
    declared = request.content_length
    if declared is None:
        return
    if op.stream_request and declared > settings.api.upload_max_bytes:
        raise file_too_large(settings.api.upload_max_bytes)
    if not op.stream_request and declared > settings.http.max_body_bytes:
        limit = f"{settings.http.max_body_bytes // 1024} KiB"
        raise PayloadTooLarge(f"The request body exceeds the {limit} limit.", code="body_too_large", limit=limit)


async def _authenticate(request: web.Request) -> Identity:
    token = bearer_token(request)
    if token is None:
        AUTH_FAILURES.labels("missing").inc()
        raise Unauthorized("Please sign in to continue.", code="unauthenticated")
    try:
        identity = request.app[ACCOUNTS].authenticate(token)
    except InvalidToken as error:
        AUTH_FAILURES.labels(error.reason).inc()
        if error.reason == "expired":
            raise Unauthorized("Your session has expired. Please sign in again.", code="token_expired") from None
        raise Unauthorized("Your sign-in is not valid. Please sign in again.", code="invalid_token") from None
    limits = request.app[SETTINGS].rate_limits
    revoked, wait = await request.app[GUARDS].admit_session(identity.session_id, str(identity.user_id),
                                                            limits.user_per_minute)
    if revoked:
        AUTH_FAILURES.labels("revoked").inc()
        raise Unauthorized("Your sign-in is not valid. Please sign in again.", code="invalid_token")
    if wait:
        raise too_many("user", wait)
    return identity


def _check_path(request: web.Request, op: Operation) -> None:
    # Every identifier in our paths is a UUID; anything else names nothing (and never reaches a service).
    for name in op.path_params:
        try:
            uuid.UUID(request.match_info[name])
        except ValueError:
            raise NotFound("The resource was not found.", code="not_found") from None


def guarded(op: Operation, handler: Handler) -> Handler:
    """`handler` behind the checks `op` declares."""

    async def run(request: web.Request) -> web.StreamResponse:
        request[OPERATION] = op
        _check_size(request, op)
        if op.rate_scope == "auth":
            limits = request.app[SETTINGS].rate_limits
            wait = await request.app[GUARDS].wait_before(
                "auth-ip", client_ip(request, limits.trusted_proxy_hops), limits.auth_per_ip_per_minute,
                fail_open=False)
            if wait:
                raise too_many("auth_ip", wait)
        if not op.public:
            request[CALLER] = await _authenticate(request)
        _check_path(request, op)
        return await handler(request)

    return run
