"""Signed tokens: the gateway's user access tokens and the short-lived internal identity token that domain
services verify. The JOSE library (joserfc, the successor of authlib.jose) stays behind this module."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, JoseError
from joserfc.jwk import GuestProtocol, OctKey
from pydantic import AnyHttpUrl, BaseModel, Field, SecretStr

from platform_common.settings import ConfigurationError, Environment

log = logging.getLogger(__name__)

ALGORITHM = "HS256"
MIN_SECRET_LENGTH = 32
MAX_TOKEN_LENGTH = 4096
INTERNAL_ISSUER = "recon-gateway"
INTERNAL_AUDIENCE = "recon-services"

Clock = Callable[[], float]


class ServiceAuthSettings(BaseModel):
    """How a domain service trusts callers: the key the gateway signs identity tokens with, and where to ask
    for a caller's project role."""

    internal_key: SecretStr | None = None
    internal_token_ttl_s: int = Field(default=60, ge=5, le=600)
    projects_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8081")
    access_cache_ttl_s: float = Field(default=5.0, ge=0.0, le=60.0)
    access_timeout_s: float = 3.0


def resolve_secret(value: SecretStr | None, *, environment: Environment, setting_name: str) -> bytes:
    """The configured signing secret. Outside dev mode it is required; dev mode gets an ephemeral key, loudly."""
    raw = value.get_secret_value().encode() if value is not None else b""
    if not raw:
        if environment is Environment.DEV:
            log.warning("!!! %s is not set: using an EPHEMERAL random key (dev mode only). Tokens die with this "
                        "process and no other process can verify them. Set it for anything but a solo dev run.",
                        setting_name)
            return secrets.token_bytes(MIN_SECRET_LENGTH)
        raise ConfigurationError(f"configuration error: {setting_name} is required but not set "
                                 f"(only the dev environment may run without it)")
    if len(raw) < MIN_SECRET_LENGTH:
        raise ConfigurationError(f"configuration error: {setting_name} is invalid: it must be at least "
                                 f"{MIN_SECRET_LENGTH} characters long")
    return raw


class InvalidToken(Exception):
    """A token that must not be trusted; `reason` is low-cardinality (metrics label) and never shown raw."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def key_id(secret: bytes) -> str:
    """A stable, non-secret name for a key, carried as `kid` so rotated keys can still verify."""
    return hashlib.sha256(b"recon-kid:" + secret).hexdigest()[:12]


class TokenCodec:
    """Signs and verifies HS256 JWTs for one issuer and audience; previous secrets keep verifying (rotation)."""

    def __init__(self, secret: bytes, *, issuer: str, audience: str, previous: Sequence[bytes] = (),
                 leeway_s: int = 5, clock: Clock = time.time) -> None:
        self._issuer = issuer
        self._audience = audience
        self._clock = clock
        self._signing_kid = key_id(secret)
        self._keys = {key_id(s): OctKey.import_key(s) for s in (secret, *previous)}
        self._registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self._clock()), leeway=leeway_s,
            iss={"essential": True, "value": issuer}, aud={"essential": True, "value": audience},
            exp={"essential": True}, sub={"essential": True},
        )

    def encode(self, claims: Mapping[str, Any], *, ttl_s: int) -> str:
        now = int(self._clock())
        payload = {**claims, "iss": self._issuer, "aud": self._audience, "iat": now, "nbf": now,
                   "exp": now + ttl_s, "jti": uuid.uuid4().hex}
        header = {"alg": ALGORITHM, "typ": "JWT", "kid": self._signing_kid}
        return jwt.encode(header, payload, self._keys[self._signing_kid], algorithms=[ALGORITHM])

    def decode(self, token: str) -> dict[str, Any]:
        """The verified claims, or InvalidToken (malformed, bad_signature, unknown_key, expired, invalid_claims)."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("malformed")
        try:
            decoded = jwt.decode(token, self._key_for, algorithms=[ALGORITHM])
        except InvalidToken:
            raise
        except BadSignatureError:
            raise InvalidToken("bad_signature") from None
        except (JoseError, ValueError, TypeError, KeyError):
            raise InvalidToken("malformed") from None
        try:
            self._registry.validate(decoded.claims)
        except ExpiredTokenError:
            raise InvalidToken("expired") from None
        except JoseError:
            raise InvalidToken("invalid_claims") from None
        return dict(decoded.claims)

    def _key_for(self, guest: GuestProtocol) -> OctKey:
        kid = guest.headers().get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidToken("unknown_key")
        return key


@dataclass(frozen=True)
class Identity:
    """Who is calling, as the gateway authenticated them."""

    user_id: uuid.UUID
    email: str
    session_id: str | None = None


class InternalTokens:
    """The gateway mints, services verify: an identity valid for `ttl_s` seconds, signed with the shared key.

    Both sides keep small bounded caches: the gateway reuses a token while most of its life remains, and a
    service remembers tokens it already verified until they expire (HMAC checks are cheap, but not free).
    """

    def __init__(self, secret: bytes, *, ttl_s: int = 60, previous: Sequence[bytes] = (), clock: Clock = time.time,
                 cache_size: int = 10_000) -> None:
        self._codec = TokenCodec(secret, issuer=INTERNAL_ISSUER, audience=INTERNAL_AUDIENCE, previous=previous,
                                 clock=clock)
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache_size = cache_size
        self._minted: OrderedDict[Identity, tuple[str, float]] = OrderedDict()
        self._verified: OrderedDict[str, tuple[Identity, float]] = OrderedDict()

    def mint(self, identity: Identity) -> str:
        now = self._clock()
        cached = self._minted.get(identity)
        if cached is not None and cached[1] - now > self._ttl_s / 2:
            return cached[0]
        claims: dict[str, Any] = {"sub": str(identity.user_id), "email": identity.email}
        if identity.session_id is not None:
            claims["sid"] = identity.session_id
        token = self._codec.encode(claims, ttl_s=self._ttl_s)
        _remember(self._minted, identity, (token, now + self._ttl_s), self._cache_size)
        return token

    def verify(self, token: str) -> Identity:
        cached = self._verified.get(token)
        if cached is not None and cached[1] > self._clock():
            return cached[0]
        claims = self._codec.decode(token)
        identity = identity_from_claims(claims)
        _remember(self._verified, token, (identity, float(claims["exp"])), self._cache_size)
        return identity


def identity_from_claims(claims: Mapping[str, Any]) -> Identity:
    """Build an Identity from verified claims; a well-signed token with a nonsensical subject is still refused."""
    try:
        user_id = uuid.UUID(str(claims["sub"]))
    except (KeyError, ValueError):
        raise InvalidToken("invalid_claims") from None
    email = claims.get("email")
    session = claims.get("sid")
    return Identity(user_id=user_id, email=email if isinstance(email, str) else "",
                    session_id=session if isinstance(session, str) else None)


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any, limit: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > limit:
        cache.popitem(last=False)
