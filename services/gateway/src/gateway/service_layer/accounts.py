"""Account use cases: register, log in, rotate a refresh token, log out, who am I."""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
from redis.exceptions import RedisError

from gateway.adapters.identity_repository import PgIdentityRepository
from gateway.adapters.passwords import PasswordHasher
from gateway.adapters.redis_guards import RedisGuards
from gateway.config import AuthSettings
from gateway.domain.accounts import (
    Credentials,
    Registration,
    TokenPair,
    User,
    new_refresh_token,
    normalize_email,
    refresh_token_digest,
)
from platform_common.auth import Identity, InvalidToken, TokenCodec, identity_from_claims
from platform_common.errors import Conflict, NotFound, Unauthorized
from platform_common.metrics import AUTH_FAILURES

log = logging.getLogger(__name__)

ACCESS_ISSUER = "recon-gateway"
ACCESS_AUDIENCE = "recon-api"
INVALID_CREDENTIALS = "Invalid email or password"
_VERIFIED_CACHE_SIZE = 10_000


def _invalid_session(reason: str) -> Unauthorized:
    AUTH_FAILURES.labels(f"refresh_{reason}").inc()
    if reason == "reused":
        return Unauthorized("This session was ended because a sign-in token was used twice. Please sign in again.",
                            code="refresh_token_reused")
    return Unauthorized("Your session is no longer valid. Please sign in again.", code="invalid_refresh_token")


@dataclass
class AccountService:
    pool: asyncpg.Pool
    passwords: PasswordHasher
    access_tokens: TokenCodec
    guards: RedisGuards
    settings: AuthSettings
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    _verified: OrderedDict[str, tuple[Identity, float]] = field(default_factory=OrderedDict)

    async def register(self, registration: Registration) -> User:
        password_hash = await self.passwords.hash(registration.password)
        async with self.pool.acquire() as conn:
            user = await PgIdentityRepository(conn).add_user(
                uuid.uuid4(), registration.email, normalize_email(registration.email), registration.display_name,
                password_hash,
            )
        if user is None:
            raise Conflict("An account with this email address already exists.", code="email_taken")
        return user

    async def login(self, credentials: Credentials) -> TokenPair:
        async with self.pool.acquire() as conn:
            stored = await PgIdentityRepository(conn).user_by_email(normalize_email(credentials.email))
        if stored is None:
            await self.passwords.spend_equal_time(credentials.password)
            AUTH_FAILURES.labels("invalid_credentials").inc()
            raise Unauthorized(INVALID_CREDENTIALS, code="invalid_credentials")
        if not await self.passwords.verify(stored.password_hash, credentials.password) or stored.disabled:
            AUTH_FAILURES.labels("invalid_credentials").inc()
            raise Unauthorized(INVALID_CREDENTIALS, code="invalid_credentials")
        async with self.pool.acquire() as conn, conn.transaction():
            repo = PgIdentityRepository(conn)
            if self.passwords.needs_rehash(stored.password_hash):
                await repo.set_password_hash(stored.user.id, await self.passwords.hash(credentials.password))
            return await self._issue(repo, stored.user.id, stored.user.email, family_id=uuid.uuid4())

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate: the presented token is spent and a new one issued in the same family. Presenting a spent
        token means it was copied; the whole family (that sign-in) is revoked."""
        async with self.pool.acquire() as conn, conn.transaction():
            repo = PgIdentityRepository(conn)
            stored = await repo.lock_refresh_token(refresh_token_digest(refresh_token))
            if stored is None:
                raise _invalid_session("unknown")
            if stored.revoked:
                raise _invalid_session("revoked")
            if stored.rotated:
                await repo.revoke_family(stored.family_id, "reuse_detected")
                reused = True
            elif stored.expires_at <= self.now():
                raise _invalid_session("expired")
            else:
                reused = False
                user = await repo.user_by_id(stored.user_id)
                if user is None:
                    raise _invalid_session("unknown")
                await repo.mark_rotated(stored.id)
                pair = await self._issue(repo, user.id, user.email, family_id=stored.family_id)
        if reused:
            # After the commit, so the family stays revoked even though this request fails.
            log.warning("refresh token reuse detected; session %s revoked", stored.family_id)
            await self._revoke_access(stored.family_id)
            raise _invalid_session("reused")
        return pair

    async def logout(self, refresh_token: str) -> None:
        """End the sign-in the refresh token belongs to; unknown or already-ended tokens are fine (idempotent)."""
        async with self.pool.acquire() as conn, conn.transaction():
            stored = await PgIdentityRepository(conn).lock_refresh_token(refresh_token_digest(refresh_token))
            if stored is None:
                return
            await PgIdentityRepository(conn).revoke_family(stored.family_id, "logout")
        await self._revoke_access(stored.family_id)

    async def me(self, identity: Identity) -> User:
        async with self.pool.acquire() as conn:
            user = await PgIdentityRepository(conn).user_by_id(identity.user_id)
        if user is None:
            raise NotFound("The account no longer exists.", code="not_found")
        return user

    async def find_user(self, email: str) -> User | None:
        async with self.pool.acquire() as conn:
            stored = await PgIdentityRepository(conn).user_by_email(normalize_email(email))
        return stored.user if stored is not None and not stored.disabled else None

    def authenticate(self, access_token: str) -> Identity:
        """The identity of a valid access token; raises InvalidToken with the reason otherwise. Clients send
        the same token for minutes, so a verified token is remembered until it expires (revocation is
        checked per request, in Redis, regardless)."""
        now = self.now().timestamp()
        remembered = self._verified.get(access_token)
        if remembered is not None and remembered[1] > now:
            return remembered[0]
        claims = self.access_tokens.decode(access_token)
        if claims.get("typ") != "access":
            raise InvalidToken("invalid_claims")
        identity = identity_from_claims(claims)
        self._verified[access_token] = (identity, float(claims["exp"]))
        while len(self._verified) > _VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return identity

    async def purge_expired_tokens(self) -> int:
        async with self.pool.acquire() as conn:
            return await PgIdentityRepository(conn).delete_expired_tokens(self.now() - timedelta(days=1))

    async def _issue(self, repo: PgIdentityRepository, user_id: uuid.UUID, email: str, *,
                     family_id: uuid.UUID) -> TokenPair:
        refresh_token, digest = new_refresh_token()
        expires_at = self.now() + timedelta(seconds=self.settings.refresh_token_ttl_s)
        await repo.add_refresh_token(uuid.uuid4(), family_id, user_id, digest, expires_at)
        access_token = self.access_tokens.encode(
            {"sub": str(user_id), "email": email, "sid": str(family_id), "typ": "access"},
            ttl_s=self.settings.access_token_ttl_s,
        )
        return TokenPair(access_token=access_token, expires_in=self.settings.access_token_ttl_s,
                         refresh_token=refresh_token, refresh_expires_in=self.settings.refresh_token_ttl_s)

    async def _revoke_access(self, family_id: uuid.UUID) -> None:
        try:
            await self.guards.revoke_session(str(family_id), self.settings.access_token_ttl_s + 10)
        except (RedisError, OSError):
            log.warning("could not mark session %s revoked in Redis; its access tokens lapse on expiry",
                        family_id, exc_info=True)
