"""Rate limits in Redis: per IP on the sign-in routes, per account on login, per user everywhere else;
429 with Retry-After, and admitted again once that time has passed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from gateway_harness import PASSWORD, Platform, start_gateway_beside, stop_gateway

from platform_common.metrics import RATE_LIMIT_REJECTIONS

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(loop_scope="session")
async def strict(stack: dict[str, str], platform: Platform) -> AsyncIterator[Platform]:
    gateway = await start_gateway_beside(stack, platform, auth_per_ip_per_minute=60, login_per_account_per_minute=20,
                                         user_per_minute=30, trusted_proxy_hops=1)
    try:
        yield gateway
    finally:
        await stop_gateway(stack, gateway)


def rejected(scope: str) -> float:
    return RATE_LIMIT_REJECTIONS.labels("gateway", scope)._value.get()  # type: ignore[attr-defined, no-any-return]


async def wait_out(headers: object) -> None:
    await asyncio.sleep(int(headers["Retry-After"]) + 0.1)  # type: ignore[index]


async def test_sign_in_routes_are_limited_per_ip_and_recover(strict: Platform) -> None:
    before = rejected("auth_ip")
    client_ip = {"X-Forwarded-For": f"203.0.113.{uuid.uuid4().int % 250 + 1}"}
    for _ in range(60):
        status, _, _ = await strict.request("POST", "/api/v2/auth/refresh", headers=client_ip,
                                            json={"refresh_token": "rt1.nothing"})
        assert status == 401
    status, body, headers = await strict.request("POST", "/api/v2/auth/refresh", headers=client_ip,
                                                 json={"refresh_token": "rt1.nothing"})
    assert status == 429 and body["code"] == "rate_limited"
    assert int(headers["Retry-After"]) >= 1
    assert headers["Content-Security-Policy"] and headers["X-Content-Type-Options"] == "nosniff"
    assert rejected("auth_ip") == before + 1

    other_ip = {"X-Forwarded-For": "198.51.100.7"}
    assert (await strict.request("POST", "/api/v2/auth/refresh", headers=other_ip,
                                 json={"refresh_token": "rt1.nothing"}))[0] == 401, "other clients are unaffected"
    status, body, _ = await strict.request("POST", "/api/v2/auth/refresh",
                                           headers={**client_ip, "Accept-Language": "de"},
                                           json={"refresh_token": "rt1.nothing"})
    assert status == 429 and body["detail"].startswith("Zu viele Anfragen")
    await wait_out(headers)
    assert (await strict.request("POST", "/api/v2/auth/refresh", headers=client_ip,
                                 json={"refresh_token": "rt1.nothing"}))[0] == 401, "admitted again"


async def test_login_is_limited_per_account_across_addresses(strict: Platform) -> None:
    account = await strict.signup("target")  # its sign-in is the first of the account's 20 attempts a minute
    for attempt in range(19):
        status, _, _ = await strict.request("POST", "/api/v2/auth/login",
                                            headers={"X-Forwarded-For": f"192.0.2.{attempt + 1}"},
                                            json={"email": account.email, "password": "not the password"})
        assert status == 401
    status, body, headers = await strict.request("POST", "/api/v2/auth/login",
                                                 headers={"X-Forwarded-For": "192.0.2.99"},
                                                 json={"email": account.email, "password": PASSWORD})
    assert status == 429 and "Retry-After" in headers
    await wait_out(headers)
    status, _, _ = await strict.request("POST", "/api/v2/auth/login", headers={"X-Forwarded-For": "192.0.2.99"},
                                        json={"email": account.email, "password": PASSWORD})
    assert status == 200


async def test_each_user_has_their_own_budget(strict: Platform) -> None:
    busy, calm = await strict.signup("busy"), await strict.signup("calm")
    before = rejected("user")
    statuses = [(await strict.request("GET", "/api/v2/projects", account=busy))[0] for _ in range(30)]
    assert statuses == [200] * 30
    status, body, headers = await strict.request("GET", "/api/v2/projects", account=busy)
    assert status == 429 and body["code"] == "rate_limited"
    assert rejected("user") == before + 1
    assert (await strict.request("GET", "/api/v2/projects", account=calm))[0] == 200
    await wait_out(headers)
    assert (await strict.request("GET", "/api/v2/projects", account=busy))[0] == 200
