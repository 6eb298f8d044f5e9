"""What every object store offers: stage a stream while hashing it, then promote it to its content address."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from platform_common.errors import PayloadTooLarge

MIB = 1024 * 1024
KIB = 1024


def describe_size(size_bytes: int) -> str:
    """'100 MB' for the default limit (the size-limit error's `limit` param; its message names `limit_mb`)."""
    if size_bytes % MIB == 0:
        return f"{size_bytes // MIB} MB"
    if size_bytes % KIB == 0:
        return f"{size_bytes // KIB} KB"
    return f"{size_bytes} bytes"


class FileTooLarge(PayloadTooLarge):
    code = "file_too_large"
    title = "The file is too large"

    def __init__(self, limit_bytes: int) -> None:
        # The gateway words its own limit the same way (gateway.domain.limits), so both layers' answers read
        # alike; params feed the translated message ("Die Datei überschreitet die Grenze von {limit_mb} MB").
        limit_mb = limit_bytes // MIB if limit_bytes % MIB == 0 else round(limit_bytes / MIB, 1)
        super().__init__(f"File exceeds the {limit_mb} MB limit", limit_bytes=limit_bytes,
                         limit=describe_size(limit_bytes), limit_mb=limit_mb)


def content_key(sha256: str) -> str:
    """objects/sha256/ab/cd/<hash>: two fan-out levels keep directories (and S3 listings) small."""
    return f"objects/sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


@dataclass(frozen=True)
class StagedObject:
    """Bytes received in full and hashed, not yet at their content address (so a rejected request leaves
    nothing behind)."""

    sha256: str
    size_bytes: int
    staging_ref: str  # backend-specific: a temporary path or key


class ObjectStore(Protocol):
    async def stage(self, chunks: AsyncIterator[bytes], *, max_bytes: int) -> StagedObject:
        """Store the stream under a temporary name, hashing as it goes; FileTooLarge past `max_bytes`."""
        ...

    async def promote(self, staged: StagedObject) -> str:
        """Move staged bytes to their content address (a no-op copy if already there); return the URI."""
        ...

    async def discard(self, staged: StagedObject) -> None:
        ...

    def uri_for(self, sha256: str) -> str:
        ...


class SizeGuard:
    """Hashes and counts bytes; raises FileTooLarge as soon as the running size passes the limit."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._hash = hashlib.sha256()

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise FileTooLarge(self.max_bytes)
        self._hash.update(chunk)

    @property
    def hexdigest(self) -> str:
        return self._hash.hexdigest()


async def rechunk(chunks: AsyncIterator[bytes], size: int) -> AsyncIterator[bytes]:
    """Regroup a stream of small network reads into blocks of `size` bytes (the last may be shorter)."""
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)
