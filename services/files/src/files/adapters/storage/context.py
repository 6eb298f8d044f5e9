"""Cleanup context building the object store, the locator and the preview scratch space from settings."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aioboto3
from aiobotocore.config import AioConfig
from aiohttp import web

from files.adapters.storage.base import ObjectStore
from files.adapters.storage.filesystem import FilesystemObjectStore
from files.adapters.storage.locator import ObjectLocator
from files.adapters.storage.s3 import S3ObjectStore
from files.config import S3Settings, StorageSettings
from platform_common.health import health_of


def _client_kwargs(s3: S3Settings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"region_name": s3.region, "endpoint_url": s3.endpoint_url,
                              "config": AioConfig(retries={"max_attempts": 3, "mode": "standard"},
                                                  connect_timeout=5, read_timeout=60)}
    if s3.access_key_id is not None and s3.secret_access_key is not None:
        kwargs["aws_access_key_id"] = s3.access_key_id.get_secret_value()
        kwargs["aws_secret_access_key"] = s3.secret_access_key.get_secret_value()
    return kwargs


def storage_ctx(storage: StorageSettings, *, scratch_dir: Path | None, store_key: web.AppKey[ObjectStore],
                locator_key: web.AppKey[ObjectLocator], scratch_key: web.AppKey[FilesystemObjectStore],
                ) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            client = None
            if storage.s3 is not None:
                client = await stack.enter_async_context(
                    aioboto3.Session().client("s3", **_client_kwargs(storage.s3)))
            store: ObjectStore
            if storage.backend == "s3":
                assert storage.s3 is not None
                assert client is not None
                store = S3ObjectStore(client, bucket=storage.s3.bucket, part_size_bytes=storage.s3.part_size_bytes)
                bucket = storage.s3.bucket

                async def bucket_ready() -> None:
                    await client.head_bucket(Bucket=bucket)

                health_of(app).add_readiness("object_store", bucket_ready)
            else:
                store = FilesystemObjectStore(storage.root)
            buckets = [*storage.external_buckets, *([storage.s3.bucket] if storage.s3 is not None else [])]
            app[store_key] = store
            app[locator_key] = ObjectLocator(roots=[storage.root, *storage.external_roots], buckets=buckets,
                                             s3=client, scratch_dir=scratch_dir)
            scratch_root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="files-preview-",
                                                                                dir=scratch_dir)))
            app[scratch_key] = FilesystemObjectStore(scratch_root)
            try:
                yield
            finally:
                health_of(app).remove("object_store")

    return context
