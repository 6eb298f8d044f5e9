"""Accounts and sessions as the public API sees them: the request and response models, and the rules a
password and an email address must meet. Pure: no I/O."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator
from pydantic_core import PydanticCustomError

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 256
# Deliberately loose (one @, no spaces, a dot in the domain): a stricter pattern rejects real addresses;
# whether the mailbox exists is something only a mail could prove.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
REFRESH_TOKEN_PREFIX = "rt1."  # noqa: S105 (a format marker, not a secret)

EmailText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320)]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200,
                                               pattern=r"^[^\x00-\x1f\x7f]*$")]
OpaqueToken = Annotated[str, StringConstraints(min_length=1, max_length=512)]


def normalize_email(email: str) -> str:
    """The one spelling of an address we compare and store uniquely."""
    return email.strip().lower()


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Registration(_Body):
    email: EmailText
    password: str = Field(description=f"{PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters")
    display_name: DisplayName = ""

    @field_validator("email")
    @classmethod
    def _email_shape(cls, email: str) -> str:
        if not _EMAIL.match(email):
            raise PydanticCustomError("email_invalid", "Must be a valid email address.")
        return email

    @field_validator("password")
    @classmethod
    def _password_length(cls, password: str) -> str:
        if len(password) < PASSWORD_MIN_LENGTH:
            raise PydanticCustomError("password_too_short", "Must be at least {min_length} characters long.",
                                      {"min_length": PASSWORD_MIN_LENGTH})
        if len(password) > PASSWORD_MAX_LENGTH:
            raise PydanticCustomError("password_too_long", "Must be at most {max_length} characters long.",
                                      {"max_length": PASSWORD_MAX_LENGTH})
        return password

    @model_validator(mode="after")
    def _password_is_not_the_email(self) -> Registration:
        if normalize_email(self.password) == normalize_email(self.email):
            raise PydanticCustomError("password_is_email", "Must not be your email address.")
        return self


class Credentials(_Body):
    """Login form. No policy checks here: a login must not reveal what the password rules are."""

    email: Annotated[str, StringConstraints(max_length=320)]
    password: Annotated[str, StringConstraints(max_length=PASSWORD_MAX_LENGTH)]


class RefreshRequest(_Body):
    refresh_token: OpaqueToken


class LogoutRequest(_Body):
    refresh_token: OpaqueToken


class User(BaseModel):
    id: uuid.UUID
    email: str
    display_name: str
    created_at: datetime


class TokenPair(BaseModel):
    access_token: str = Field(description="JWT for `Authorization: Bearer`; short-lived")
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (the RFC 6750 scheme name)
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str = Field(description="Opaque; single use: every refresh returns a new one")
    refresh_expires_in: int


def new_refresh_token() -> tuple[str, bytes]:
    """A fresh opaque refresh token and the digest we store instead of it."""
    token = REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, refresh_token_digest(token)


def refresh_token_digest(token: str) -> bytes:
    # 256 random bits need no slow hash: SHA-256 already makes the stored value useless to a thief.
    return hashlib.sha256(token.encode()).digest()
