"""Content-addressed objects in a local directory; staging files live beside them so promotion is a rename."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from files.adapters.storage.base import MIB, SizeGuard, StagedObject, content_key, rechunk

WRITE_BLOCK = MIB


class FilesystemObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._staging = self.root / "staging"

    def path_for(self, sha256: str) -> Path:
        return self.root / content_key(sha256)

    def uri_for(self, sha256: str) -> str:
        return self.path_for(sha256).as_uri()

    async def stage(self, chunks: AsyncIterator[bytes], *, max_bytes: int) -> StagedObject:
        await asyncio.to_thread(self._staging.mkdir, parents=True, exist_ok=True)
        path = self._staging / f"{uuid.uuid4().hex}.part"
        guard = SizeGuard(max_bytes)
        handle = await asyncio.to_thread(path.open, "wb")
        try:
            async for block in rechunk(chunks, WRITE_BLOCK):
                # Hashing and writing 1 MiB both release the GIL: keep them off the event loop together.
                await asyncio.to_thread(_hash_and_write, guard, handle, block)
            await asyncio.to_thread(_flush_and_sync, handle)
        except BaseException:
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(path.unlink, missing_ok=True)
            raise
        await asyncio.to_thread(handle.close)
        return StagedObject(sha256=guard.hexdigest, size_bytes=guard.size, staging_ref=str(path))

    async def promote(self, staged: StagedObject) -> str:
        final = self.path_for(staged.sha256)
        await asyncio.to_thread(_move_into_place, Path(staged.staging_ref), final)
        return final.as_uri()

    async def discard(self, staged: StagedObject) -> None:
        await asyncio.to_thread(Path(staged.staging_ref).unlink, missing_ok=True)


def _hash_and_write(guard: SizeGuard, handle: BinaryIO, block: bytes) -> None:
    guard.add(block)
    handle.write(block)


def _flush_and_sync(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _move_into_place(staged: Path, final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        # Same bytes already stored (same hash): keep the existing object, drop the new copy.
        staged.unlink(missing_ok=True)
        return
    os.replace(staged, final)  # atomic within one filesystem: readers never see a half-written object
    with contextlib.suppress(OSError):
        dir_fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
