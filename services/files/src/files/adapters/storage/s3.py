"""Content-addressed objects behind the S3 API: a streamed multipart upload to a staging key, then a
server-side copy to the content address."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from files.adapters.storage.base import SizeGuard, StagedObject, content_key, rechunk
from platform_common.errors import DependencyUnavailable

log = logging.getLogger(__name__)

S3Client = Any  # aiobotocore's client is generated at run time; it has no static type


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


class S3ObjectStore:
    def __init__(self, client: S3Client, *, bucket: str, part_size_bytes: int) -> None:
        self._s3 = client
        self.bucket = bucket
        self._part_size = part_size_bytes

    def uri_for(self, sha256: str) -> str:
        return s3_uri(self.bucket, content_key(sha256))

    async def stage(self, chunks: AsyncIterator[bytes], *, max_bytes: int) -> StagedObject:
        key = f"staging/{uuid.uuid4().hex}"
        guard = SizeGuard(max_bytes)
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for block in rechunk(chunks, self._part_size):
                await asyncio.to_thread(guard.add, block)
                if len(block) < self._part_size and upload_id is None:
                    # The whole object is smaller than one part: a single PUT (multipart needs >= 1 full part).
                    await self._s3.put_object(Bucket=self.bucket, Key=key, Body=block)
                    return StagedObject(sha256=guard.hexdigest, size_bytes=guard.size, staging_ref=key)
                if upload_id is None:
                    created = await self._s3.create_multipart_upload(Bucket=self.bucket, Key=key)
                    upload_id = created["UploadId"]
                number = len(parts) + 1
                answer = await self._s3.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                    PartNumber=number, Body=block)
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            if upload_id is None:  # an empty stream
                await self._s3.put_object(Bucket=self.bucket, Key=key, Body=b"")
            else:
                await self._s3.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                         MultipartUpload={"Parts": parts})
        except BaseException as error:
            if upload_id is not None:
                with contextlib.suppress(BotoCoreError, ClientError):
                    await self._s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            if isinstance(error, (BotoCoreError, ClientError)):
                raise _unavailable(error) from error
            raise
        return StagedObject(sha256=guard.hexdigest, size_bytes=guard.size, staging_ref=key)

    async def promote(self, staged: StagedObject) -> str:
        final = content_key(staged.sha256)
        try:
            if not await self._exists(final):
                await self._s3.copy_object(Bucket=self.bucket, Key=final,
                                           CopySource={"Bucket": self.bucket, "Key": staged.staging_ref})
            await self._s3.delete_object(Bucket=self.bucket, Key=staged.staging_ref)
        except (BotoCoreError, ClientError) as error:
            raise _unavailable(error) from error
        return s3_uri(self.bucket, final)

    async def discard(self, staged: StagedObject) -> None:
        try:
            await self._s3.delete_object(Bucket=self.bucket, Key=staged.staging_ref)
        except (BotoCoreError, ClientError) as error:
            log.warning("could not delete staged object %s: %r", staged.staging_ref, error)

    async def _exists(self, key: str) -> bool:
        try:
            await self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True


def _unavailable(error: BaseException) -> DependencyUnavailable:
    return DependencyUnavailable(f"The object store did not answer as expected: {error}",
                                 code="object_store_unavailable")
