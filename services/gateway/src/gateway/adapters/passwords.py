"""argon2id password hashing, off the event loop and bounded: each hash is deliberately slow and memory-hard."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher as Argon2Hasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gateway.config import AuthSettings

T = TypeVar("T")


class PasswordHasher:
    def __init__(self, settings: AuthSettings) -> None:
        self._hasher = Argon2Hasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib,
                                    parallelism=settings.argon2_parallelism)
        self._slots = asyncio.Semaphore(settings.hashing_concurrency)
        self._decoy: str | None = None

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(password_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

        return await self._run(check)

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the stored hash used weaker parameters than today's: upgrade it at the next login."""
        return self._hasher.check_needs_rehash(password_hash)

    async def spend_equal_time(self, password: str) -> None:
        """Verify against a decoy so an unknown email costs as long as a wrong password (no account probing)."""
        if self._decoy is None:
            self._decoy = await self.hash("decoy password that matches nothing")
        await self.verify(self._decoy, password)

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        async with self._slots:
            return await asyncio.get_running_loop().run_in_executor(None, work, *args)
