"""Resolves an object URI from an event to a local file the parser can read, enforcing where objects may live.

Uploads point into our own root or bucket. External systems may also point into the configured drop-off
roots and buckets; any other URI is refused, so an event cannot make the service read arbitrary files.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from botocore.exceptions import BotoCoreError, ClientError

from files.adapters.storage.base import MIB
from files.adapters.storage.s3 import S3Client
from platform_common.errors import DependencyUnavailable, PermanentError

DOWNLOAD_BLOCK = MIB


class ObjectRejected(PermanentError):
    """The event points at an object we may not or cannot read; the consumer dead-letters it."""


@dataclass(frozen=True)
class LocalObject:
    path: Path
    sha256: str | None  # computed when the bytes passed through us (downloads, external files)
    size_bytes: int


class ObjectLocator:
    def __init__(self, *, roots: Sequence[Path], buckets: Sequence[str], s3: S3Client | None,
                 scratch_dir: Path | None) -> None:
        self._roots = [root.resolve() for root in roots]
        self._buckets = set(buckets)
        self._s3 = s3
        self._scratch_dir = scratch_dir

    def check_allowed(self, uri: str) -> None:
        """Refuse URIs outside the allowed roots and buckets (before touching anything)."""
        parsed = urlparse(uri)
        if parsed.scheme == "file":
            self._allowed_path(parsed.netloc, parsed.path, uri)
        elif parsed.scheme == "s3":
            self._allowed_bucket(parsed.netloc, parsed.path, uri)
        else:
            raise ObjectRejected(f"object URI scheme {parsed.scheme!r} is not supported (use file:// or s3://)",
                                 code="object_uri_invalid")

    @contextlib.asynccontextmanager
    async def local_copy(self, uri: str, *, hash_it: bool) -> AsyncIterator[LocalObject]:
        """A readable local file for `uri`: the file itself, or a scratch download removed afterwards."""
        parsed = urlparse(uri)
        if parsed.scheme == "s3":
            bucket, key = self._allowed_bucket(parsed.netloc, parsed.path, uri)
            async with self._download(bucket, key, uri) as local:
                yield local
            return
        if parsed.scheme != "file":
            self.check_allowed(uri)
        path = self._allowed_path(parsed.netloc, parsed.path, uri)
        try:
            size, sha = await asyncio.to_thread(_stat_and_hash, path, hash_it)
        except FileNotFoundError:
            raise ObjectRejected(f"object {uri} does not exist", code="object_not_found") from None
        yield LocalObject(path=path, sha256=sha, size_bytes=size)

    def _allowed_path(self, host: str, raw_path: str, uri: str) -> Path:
        if host not in ("", "localhost"):
            raise ObjectRejected(f"file URI {uri} names a remote host", code="object_uri_invalid")
        requested = Path(unquote(raw_path))
        if not requested.is_absolute():
            raise ObjectRejected(f"file URI {uri} is not absolute", code="object_uri_invalid")
        # resolve() follows symlinks and '..', so a link inside a root cannot point outside it.
        resolved = requested.resolve()
        if not any(resolved.is_relative_to(root) for root in self._roots):
            raise ObjectRejected(f"object {uri} is outside the allowed storage roots", code="object_uri_not_allowed")
        if resolved.exists() and not resolved.is_file():
            raise ObjectRejected(f"object {uri} is not a regular file", code="object_uri_invalid")
        return resolved

    def _allowed_bucket(self, bucket: str, raw_key: str, uri: str) -> tuple[str, str]:
        key = unquote(raw_key.lstrip("/"))
        if not bucket or not key:
            raise ObjectRejected(f"S3 URI {uri} needs a bucket and a key", code="object_uri_invalid")
        if bucket not in self._buckets:
            raise ObjectRejected(f"bucket {bucket!r} is not an allowed storage bucket", code="object_uri_not_allowed")
        if self._s3 is None:
            raise ObjectRejected(f"no S3 endpoint is configured to read {uri}", code="object_store_not_configured")
        return bucket, key

    @contextlib.asynccontextmanager
    async def _download(self, bucket: str, key: str, uri: str) -> AsyncIterator[LocalObject]:
        assert self._s3 is not None
        fd, name = tempfile.mkstemp(prefix="files-ingest-", dir=self._scratch_dir)
        path = Path(name)
        try:
            digest = hashlib.sha256()
            size = 0
            try:
                answer = await self._s3.get_object(Bucket=bucket, Key=key)
                with os.fdopen(fd, "wb") as handle:
                    async for block in answer["Body"].iter_chunks(DOWNLOAD_BLOCK):
                        size += len(block)
                        await asyncio.to_thread(_hash_and_write, digest, handle, block)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    raise ObjectRejected(f"object {uri} does not exist", code="object_not_found") from None
                if error.response.get("Error", {}).get("Code") in ("403", "AccessDenied"):
                    raise ObjectRejected(f"access to {uri} is denied", code="object_access_denied") from None
                raise DependencyUnavailable(f"S3 read of {uri} failed: {error}",
                                            code="object_store_unavailable") from error
            except BotoCoreError as error:
                raise DependencyUnavailable(f"S3 read of {uri} failed: {error}",
                                            code="object_store_unavailable") from error
            yield LocalObject(path=path, sha256=digest.hexdigest(), size_bytes=size)
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)


def _hash_and_write(digest: hashlib._Hash, handle: object, block: bytes) -> None:
    digest.update(block)
    handle.write(block)  # type: ignore[attr-defined]


def _stat_and_hash(path: Path, hash_it: bool) -> tuple[int, str | None]:
    size = path.stat().st_size
    if not hash_it:
        return size, None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(DOWNLOAD_BLOCK):
            digest.update(block)
    return size, digest.hexdigest()
