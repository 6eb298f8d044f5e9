"""Accounts through the running gateway: registration, login, refresh rotation with reuse detection, logout,
and access tokens that are expired, tampered with or from a revoked session."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from gateway_harness import PASSWORD, Platform

from gateway.service_layer.accounts import ACCESS_AUDIENCE, ACCESS_ISSUER
from platform_common.auth import TokenCodec

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def test_register_then_sign_in_and_ask_who_i_am(platform: Platform) -> None:
    account = await platform.signup("ada")
    status, me, _ = await platform.request("GET", "/api/v2/auth/me", account=account)
    assert status == 200
    assert me["email"] == account.email and me["id"] == account.user_id and me["display_name"] == "ada"
    assert "password" not in json.dumps(me) and "hash" not in json.dumps(me)


async def test_an_address_registers_once_whatever_its_case(platform: Platform) -> None:
    account = await platform.signup("grace")
    status, body, _ = await platform.request("POST", "/api/v2/auth/register",
                                             json={"email": account.email.upper(), "password": PASSWORD})
    assert status == 409 and body["code"] == "email_taken"


async def test_registration_reports_each_bad_field(platform: Platform) -> None:
    status, body, _ = await platform.request("POST", "/api/v2/auth/register",
                                             json={"email": "not-an-address", "password": "short", "extra": 1})
    assert status == 422 and body["code"] == "validation_failed"
    by_field = {error["field"]: error for error in body["errors"]}
    assert by_field["email"]["code"] == "email_invalid"
    assert by_field["password"]["code"] == "password_too_short"
    assert by_field["password"]["message"] == "Must be at least 10 characters long."
    assert by_field["extra"]["code"] == "extra_forbidden"


async def test_login_failure_says_exactly_invalid_email_or_password(platform: Platform) -> None:
    account = await platform.signup("alan")
    for email, password in ((account.email, "wrong password!"), (f"nobody-{uuid.uuid4().hex}@example.com", PASSWORD)):
        status, body, headers = await platform.request("POST", "/api/v2/auth/login",
                                                       json={"email": email, "password": password})
        assert status == 401
        assert body["detail"] == "Invalid email or password"
        assert body["code"] == "invalid_credentials"
        assert headers["WWW-Authenticate"].startswith("Bearer")
    status, body, _ = await platform.request("POST", "/api/v2/auth/login", headers={"Accept-Language": "de-DE,de;q=0.9"},
                                             json={"email": account.email, "password": "wrong password!"})
    assert status == 401 and body["detail"] == "Ungültige E-Mail-Adresse oder ungültiges Passwort"


async def test_refresh_rotates_and_reuse_revokes_the_whole_sign_in(platform: Platform) -> None:
    account = await platform.signup("rotation")
    status, first, _ = await platform.request("POST", "/api/v2/auth/refresh",
                                              json={"refresh_token": account.refresh_token})
    assert status == 200 and first["refresh_token"] != account.refresh_token
    status, second, _ = await platform.request("POST", "/api/v2/auth/refresh",
                                               json={"refresh_token": first["refresh_token"]})
    assert status == 200
    new_access = {"Authorization": f"Bearer {second['access_token']}"}
    assert (await platform.request("GET", "/api/v2/auth/me", headers=new_access))[0] == 200

    # The first refresh token was spent: presenting it again means it was copied.
    status, body, _ = await platform.request("POST", "/api/v2/auth/refresh",
                                             json={"refresh_token": account.refresh_token})
    assert status == 401 and body["code"] == "refresh_token_reused"
    # ...so every token of that sign-in is dead, including the newest ones.
    status, body, _ = await platform.request("POST", "/api/v2/auth/refresh",
                                             json={"refresh_token": second["refresh_token"]})
    assert status == 401 and body["code"] == "invalid_refresh_token"
    status, body, _ = await platform.request("GET", "/api/v2/auth/me", headers=new_access)
    assert status == 401 and body["code"] == "invalid_token"

    # Other sign-ins of the same person are untouched.
    status, tokens, _ = await platform.request("POST", "/api/v2/auth/login",
                                               json={"email": account.email, "password": PASSWORD})
    assert status == 200
    assert (await platform.request("GET", "/api/v2/auth/me",
                                   headers={"Authorization": f"Bearer {tokens['access_token']}"}))[0] == 200


async def test_logout_ends_the_sign_in(platform: Platform) -> None:
    account = await platform.signup("leaver")
    status, _, _ = await platform.request("POST", "/api/v2/auth/logout", json={"refresh_token": account.refresh_token})
    assert status == 204
    status, body, _ = await platform.request("POST", "/api/v2/auth/refresh",
                                             json={"refresh_token": account.refresh_token})
    assert status == 401 and body["code"] == "invalid_refresh_token"
    assert (await platform.request("GET", "/api/v2/auth/me", account=account))[0] == 401
    status, _, _ = await platform.request("POST", "/api/v2/auth/logout", json={"refresh_token": "rt1.unknown"})
    assert status == 204, "logging out twice (or with junk) is harmless"


async def test_expired_tampered_and_foreign_tokens_are_refused(platform: Platform) -> None:
    account = await platform.signup("mallory")
    claims = {"sub": account.user_id, "email": account.email, "typ": "access", "sid": str(uuid.uuid4())}
    right_key = platform.jwt_secret.encode()
    expired = TokenCodec(right_key, issuer=ACCESS_ISSUER, audience=ACCESS_AUDIENCE,
                         clock=lambda: time.time() - 3600).encode(claims, ttl_s=900)
    foreign = TokenCodec(b"x" * 40, issuer=ACCESS_ISSUER, audience=ACCESS_AUDIENCE).encode(claims, ttl_s=900)
    internal = TokenCodec(platform.internal_key.encode(), issuer="recon-gateway",
                          audience="recon-services").encode(claims, ttl_s=60)
    header, payload, signature = account.access_token.split(".")
    elevated = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    elevated["sub"] = str(uuid.uuid4())
    tampered = ".".join([header, base64.urlsafe_b64encode(json.dumps(elevated).encode()).decode().rstrip("="),
                         signature])
    unsigned = ".".join([base64.urlsafe_b64encode(b'{"alg":"none"}').decode().rstrip("="), payload, ""])
    cases = {expired: "token_expired", foreign: "invalid_token", internal: "invalid_token",
             tampered: "invalid_token", unsigned: "invalid_token", "garbage": "invalid_token"}
    for token, code in cases.items():
        status, body, _ = await platform.request("GET", "/api/v2/auth/me",
                                                 headers={"Authorization": f"Bearer {token}"})
        assert (status, body["code"]) == (401, code), token
    status, body, _ = await platform.request("GET", "/api/v2/auth/me", headers={"Authorization": "Basic eDp5"})
    assert (status, body["code"]) == (401, "unauthenticated")
