"""SQL of the identity schema (users and refresh-token families); no other module writes SQL for it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.domain.accounts import User

_USER_COLUMNS = "id, email, display_name, created_at"


@dataclass(frozen=True)
class StoredUser:
    user: User
    password_hash: str
    disabled: bool


@dataclass(frozen=True)
class StoredRefreshToken:
    id: uuid.UUID
    family_id: uuid.UUID
    user_id: uuid.UUID
    expires_at: datetime
    rotated: bool
    revoked: bool


class PgIdentityRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add_user(self, user_id: uuid.UUID, email: str, email_normalized: str, display_name: str,
                       password_hash: str) -> User | None:
        """The new user, or None when the address is taken (the unique index decides, not a prior read)."""
        row = await self._conn.fetchrow(
            f"INSERT INTO users (id, email, email_normalized, display_name, password_hash) "
            f"VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email_normalized) DO NOTHING RETURNING {_USER_COLUMNS}",
            user_id, email, email_normalized, display_name, password_hash,
        )
        return User.model_validate(dict(row)) if row else None

    async def user_by_email(self, email_normalized: str) -> StoredUser | None:
        row = await self._conn.fetchrow(
            f"SELECT {_USER_COLUMNS}, password_hash, disabled_at FROM users WHERE email_normalized = $1",
            email_normalized,
        )
        if row is None:
            return None
        user = User(id=row["id"], email=row["email"], display_name=row["display_name"], created_at=row["created_at"])
        return StoredUser(user, row["password_hash"], row["disabled_at"] is not None)

    async def user_by_id(self, user_id: uuid.UUID) -> User | None:
        row = await self._conn.fetchrow(
            f"SELECT {_USER_COLUMNS} FROM users WHERE id = $1 AND disabled_at IS NULL", user_id
        )
        return User.model_validate(dict(row)) if row else None

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        await self._conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash)

    async def add_refresh_token(self, token_id: uuid.UUID, family_id: uuid.UUID, user_id: uuid.UUID,
                                digest: bytes, expires_at: datetime) -> None:
        await self._conn.execute(
            "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)",
            token_id, family_id, user_id, digest, expires_at,
        )

    async def lock_refresh_token(self, digest: bytes) -> StoredRefreshToken | None:
        """The token row, locked until the transaction ends, so two refreshes with one token serialise."""
        row = await self._conn.fetchrow(
            "SELECT id, family_id, user_id, expires_at, rotated_at, revoked_at FROM refresh_tokens "
            "WHERE token_hash = $1 FOR UPDATE", digest,
        )
        if row is None:
            return None
        return StoredRefreshToken(row["id"], row["family_id"], row["user_id"], row["expires_at"],
                                  row["rotated_at"] is not None, row["revoked_at"] is not None)

    async def mark_rotated(self, token_id: uuid.UUID) -> None:
        await self._conn.execute("UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1", token_id)

    async def revoke_family(self, family_id: uuid.UUID, reason: str) -> int:
        status = await self._conn.execute(
            "UPDATE refresh_tokens SET revoked_at = now(), revoked_reason = $2 "
            "WHERE family_id = $1 AND revoked_at IS NULL", family_id, reason,
        )
        return int(status.split()[-1])

    async def delete_expired_tokens(self, before: datetime) -> int:
        status = await self._conn.execute("DELETE FROM refresh_tokens WHERE expires_at < $1", before)
        return int(status.split()[-1])
