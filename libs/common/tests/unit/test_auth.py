"""Token signing and verification, secrets resolution, and the internal identity token."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from pydantic import SecretStr

from platform_common.auth import Identity, InternalTokens, InvalidToken, TokenCodec, resolve_secret
from platform_common.settings import ConfigurationError, Environment

SECRET = b"s" * 32


def codec(secret: bytes = SECRET, **kwargs: object) -> TokenCodec:
    return TokenCodec(secret, issuer="issuer", audience="audience", **kwargs)  # type: ignore[arg-type]


def test_a_signed_token_round_trips_with_registered_claims() -> None:
    claims = codec().decode(codec().encode({"sub": "someone", "role": "x"}, ttl_s=60))
    assert claims["sub"] == "someone" and claims["role"] == "x"
    assert claims["iss"] == "issuer" and claims["aud"] == "audience"
    assert claims["exp"] - claims["iat"] == 60 and claims["jti"]


@pytest.mark.parametrize(("token_factory", "reason"), [
    (lambda: codec().encode({"sub": "a"}, ttl_s=60)[:-3] + "abc", "bad_signature"),
    (lambda: codec(b"o" * 32).encode({"sub": "a"}, ttl_s=60), "unknown_key"),
    (lambda: codec(clock=lambda: time.time() - 600).encode({"sub": "a"}, ttl_s=60), "expired"),
    (lambda: codec(clock=lambda: time.time() + 600).encode({"sub": "a"}, ttl_s=6000), "invalid_claims"),
    (lambda: TokenCodec(SECRET, issuer="other", audience="audience").encode({"sub": "a"}, ttl_s=60),
     "invalid_claims"),
    (lambda: TokenCodec(SECRET, issuer="issuer", audience="other").encode({"sub": "a"}, ttl_s=60),
     "invalid_claims"),
    (lambda: codec().encode({}, ttl_s=60), "invalid_claims"),
    (lambda: "a.b", "malformed"),
    (lambda: "", "malformed"),
    (lambda: "x" * 5000, "malformed"),
    (lambda: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.", "malformed"),
])
def test_untrustworthy_tokens_are_refused_with_a_reason(token_factory: object, reason: str) -> None:
    with pytest.raises(InvalidToken) as refused:
        codec().decode(token_factory())  # type: ignore[operator]
    assert refused.value.reason == reason


def test_a_rotated_secret_keeps_verifying_old_tokens_until_they_expire() -> None:
    old_token = codec(b"old" * 11).encode({"sub": "a"}, ttl_s=60)
    rotated = codec(b"new" * 11, previous=[b"old" * 11])
    assert rotated.decode(old_token)["sub"] == "a"
    assert codec(b"new" * 11).decode(rotated.encode({"sub": "b"}, ttl_s=60))["sub"] == "b"
    with pytest.raises(InvalidToken):
        codec(b"new" * 11).decode(old_token)


def test_secrets_are_required_outside_dev_mode(caplog: pytest.LogCaptureFixture) -> None:
    for environment in (Environment.PROD, Environment.TEST):
        with pytest.raises(ConfigurationError) as missing:
            resolve_secret(None, environment=environment, setting_name="GATEWAY_AUTH__JWT_SECRET")
        assert str(missing.value) == ("configuration error: GATEWAY_AUTH__JWT_SECRET is required but not set "
                                      "(only the dev environment may run without it)")
    with pytest.raises(ConfigurationError, match="at least 32 characters"):
        resolve_secret(SecretStr("short"), environment=Environment.PROD, setting_name="X")
    assert resolve_secret(SecretStr("k" * 40), environment=Environment.PROD, setting_name="X") == b"k" * 40
    with caplog.at_level(logging.WARNING):
        first = resolve_secret(None, environment=Environment.DEV, setting_name="GATEWAY_AUTH__JWT_SECRET")
        second = resolve_secret(None, environment=Environment.DEV, setting_name="GATEWAY_AUTH__JWT_SECRET")
    assert len(first) == 32 and first != second, "an ephemeral random key, never a built-in one"
    assert "EPHEMERAL" in caplog.text and "GATEWAY_AUTH__JWT_SECRET" in caplog.text


def test_internal_tokens_carry_the_identity_and_are_reused_while_fresh() -> None:
    now = [1_000_000.0]
    tokens = InternalTokens(SECRET, ttl_s=60, clock=lambda: now[0])
    someone = Identity(uuid.uuid4(), "a@example.com", "session-1")
    token = tokens.mint(someone)
    assert tokens.verify(token) == someone
    assert tokens.mint(someone) == token, "reused while more than half its life remains"
    now[0] += 31
    assert tokens.mint(someone) != token
    now[0] += 60
    with pytest.raises(InvalidToken) as expired:
        tokens.verify(token)
    assert expired.value.reason == "expired"
    other_service_key = InternalTokens(b"z" * 32, clock=lambda: now[0])
    with pytest.raises(InvalidToken):
        other_service_key.verify(tokens.mint(someone))


def test_an_access_token_is_not_an_internal_token() -> None:
    access = TokenCodec(SECRET, issuer="recon-gateway", audience="recon-api").encode({"sub": str(uuid.uuid4())},
                                                                                      ttl_s=60)
    with pytest.raises(InvalidToken):
        InternalTokens(SECRET).verify(access)
