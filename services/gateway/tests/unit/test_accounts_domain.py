"""Account rules that need no I/O: what a registration must look like, and refresh-token handling."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.domain.accounts import (
    REFRESH_TOKEN_PREFIX,
    Credentials,
    Registration,
    new_refresh_token,
    normalize_email,
    refresh_token_digest,
)


def codes(error: ValidationError) -> dict[str, str]:
    return {".".join(map(str, e["loc"])) or "body": e["type"] for e in error.errors()}


def test_a_valid_registration_is_trimmed() -> None:
    registration = Registration(email="  Ada@Example.com ", password="long enough password", display_name=" Ada ")
    assert registration.email == "Ada@Example.com" and registration.display_name == "Ada"
    assert normalize_email(registration.email) == "ada@example.com"


@pytest.mark.parametrize(("body", "expected"), [
    ({"email": "no-at-sign", "password": "long enough password"}, {"email": "email_invalid"}),
    ({"email": "a b@example.com", "password": "long enough password"}, {"email": "email_invalid"}),
    ({"email": "a@example.com", "password": "short"}, {"password": "password_too_short"}),
    ({"email": "a@example.com", "password": "x" * 257}, {"password": "password_too_long"}),
    ({"email": "long.address@example.com", "password": "LONG.ADDRESS@example.com"}, {"body": "password_is_email"}),
    ({"email": "a@example.com", "password": "long enough password", "admin": True}, {"admin": "extra_forbidden"}),
    ({"email": "a@example.com", "password": "long enough password", "display_name": "a\x00b"},
     {"display_name": "string_pattern_mismatch"}),
])
def test_registrations_are_refused_field_by_field(body: dict[str, object], expected: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as refused:
        Registration.model_validate(body)
    assert codes(refused.value) == expected


def test_login_does_not_reveal_the_password_rules() -> None:
    assert Credentials(email="anything", password="x").password == "x"


def test_refresh_tokens_are_random_and_only_their_digest_is_kept() -> None:
    first, first_digest = new_refresh_token()
    second, _ = new_refresh_token()
    assert first.startswith(REFRESH_TOKEN_PREFIX) and first != second and len(first) > 40
    assert refresh_token_digest(first) == first_digest and len(first_digest) == 32
    assert first.encode() not in first_digest
