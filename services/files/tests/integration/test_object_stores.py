"""Object stores (filesystem and S3 through a real moto_server) and the locator's access policy."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aioboto3
import pytest

from files.adapters.storage import FileTooLarge, ObjectLocator, ObjectRejected, content_key
from files.adapters.storage.filesystem import FilesystemObjectStore
from files.adapters.storage.s3 import S3ObjectStore

pytestmark = pytest.mark.integration
MIB = 1024 * 1024


class Source:
    """An async byte stream of `total` bytes in `chunk`-sized pieces, counting what was pulled from it."""

    def __init__(self, total: int, chunk: int = 64 * 1024, seed: int = 1) -> None:
        self.data = hashlib.shake_256(str(seed).encode()).digest(total)  # deterministic, incompressible
        self.chunk = chunk
        self.pulled = 0

    async def stream(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), self.chunk):
            piece = self.data[start:start + self.chunk]
            self.pulled += len(piece)
            yield piece

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_content_address_fans_out_by_hash_prefix() -> None:
    digest = "ab" + "cd" + "e" * 60
    assert content_key(digest) == f"objects/sha256/ab/cd/{digest}"


def test_default_limit_is_named_in_the_message() -> None:
    error = FileTooLarge(100 * MIB)
    assert (error.code, error.http_status, error.detail) == ("file_too_large", 413, "File exceeds the 100 MB limit")
    assert error.params == {"limit_bytes": 100 * MIB, "limit": "100 MB", "limit_mb": 100}


async def test_filesystem_store_hashes_while_streaming_and_stores_by_content(tmp_path: Path) -> None:
    store = FilesystemObjectStore(tmp_path)
    source = Source(int(2.5 * MIB))
    staged = await store.stage(source.stream(), max_bytes=10 * MIB)
    assert (staged.sha256, staged.size_bytes) == (source.sha256, len(source.data))
    assert Path(staged.staging_ref).parent == tmp_path / "staging"

    uri = await store.promote(staged)
    final = tmp_path / content_key(source.sha256)
    assert uri == final.as_uri()
    assert final.read_bytes() == source.data
    assert list((tmp_path / "staging").iterdir()) == []

    again = await store.stage(Source(int(2.5 * MIB)).stream(), max_bytes=10 * MIB)
    assert await store.promote(again) == uri  # same bytes, same object, stored once
    assert files_under(tmp_path) == [final]


async def test_filesystem_store_stops_reading_at_the_limit_and_keeps_nothing(tmp_path: Path) -> None:
    store = FilesystemObjectStore(tmp_path)
    source = Source(5 * MIB)
    with pytest.raises(FileTooLarge) as raised:
        await store.stage(source.stream(), max_bytes=MIB)
    assert raised.value.detail == "File exceeds the 1 MB limit"
    assert source.pulled < 3 * MIB  # refused while streaming, not after reading everything
    assert files_under(tmp_path) == []


@pytest.fixture
async def s3(s3_endpoint: str) -> AsyncIterator[Any]:
    session = aioboto3.Session()
    async with session.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="test",
                              aws_secret_access_key="test") as client:  # noqa: S106 - emulator credentials
        yield client


@pytest.fixture
async def bucket(s3: Any) -> str:
    name = f"files-{uuid.uuid4().hex[:12]}"
    await s3.create_bucket(Bucket=name)
    return name


async def _keys(s3: Any, bucket: str) -> list[str]:
    listed = await s3.list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listed.get("Contents", []))


async def test_s3_store_streams_a_multipart_upload_then_copies_to_the_content_address(s3: Any, bucket: str) -> None:
    store = S3ObjectStore(s3, bucket=bucket, part_size_bytes=5 * MIB)
    source = Source(12 * MIB)
    staged = await store.stage(source.stream(), max_bytes=100 * MIB)
    assert (staged.sha256, staged.size_bytes) == (source.sha256, 12 * MIB)
    head = await s3.head_object(Bucket=bucket, Key=staged.staging_ref)
    assert head["ETag"].strip('"').endswith("-3")  # three parts: 5 + 5 + 2 MiB, never the whole file at once

    uri = await store.promote(staged)
    key = content_key(source.sha256)
    assert uri == f"s3://{bucket}/{key}"
    body = await (await s3.get_object(Bucket=bucket, Key=key))["Body"].read()
    assert hashlib.sha256(body).hexdigest() == source.sha256
    assert await _keys(s3, bucket) == [key]

    again = await store.stage(Source(12 * MIB).stream(), max_bytes=100 * MIB)
    assert await store.promote(again) == uri
    assert await _keys(s3, bucket) == [key]


async def test_s3_store_puts_small_and_empty_objects_whole(s3: Any, bucket: str) -> None:
    store = S3ObjectStore(s3, bucket=bucket, part_size_bytes=5 * MIB)
    small = Source(1000)
    uri = await store.promote(await store.stage(small.stream(), max_bytes=MIB))
    empty = await store.stage(Source(0).stream(), max_bytes=MIB)
    assert empty.sha256 == hashlib.sha256(b"").hexdigest()
    await store.promote(empty)
    assert sorted(await _keys(s3, bucket)) == sorted([content_key(small.sha256), content_key(empty.sha256)])
    assert uri.endswith(small.sha256)


async def test_s3_store_aborts_the_multipart_upload_past_the_limit(s3: Any, bucket: str) -> None:
    store = S3ObjectStore(s3, bucket=bucket, part_size_bytes=5 * MIB)
    source = Source(30 * MIB)
    with pytest.raises(FileTooLarge, match="File exceeds the 7 MB limit"):
        await store.stage(source.stream(), max_bytes=7 * MIB)
    assert source.pulled <= 10 * MIB + 64 * 1024
    assert await _keys(s3, bucket) == []
    pending = await s3.list_multipart_uploads(Bucket=bucket)
    assert pending.get("Uploads", []) == []


def _rejected_code(locator: ObjectLocator, uri: str) -> str:
    with pytest.raises(ObjectRejected) as raised:
        locator.check_allowed(uri)
    return raised.value.code


def test_locator_refuses_uris_outside_the_allowed_roots_and_buckets(tmp_path: Path) -> None:
    root, dropoff, outside = tmp_path / "objects", tmp_path / "dropoff", tmp_path / "elsewhere"
    for folder in (root, dropoff, outside):
        folder.mkdir()
    (outside / "secret.csv").write_text("a,b\n")
    (dropoff / "link.csv").symlink_to(outside / "secret.csv")
    (dropoff / "ok.csv").write_text("a,b\n")
    locator = ObjectLocator(roots=[root, dropoff], buckets=["ours"], s3=None, scratch_dir=tmp_path)

    locator.check_allowed((dropoff / "ok.csv").as_uri())
    assert _rejected_code(locator, (outside / "secret.csv").as_uri()) == "object_uri_not_allowed"
    assert _rejected_code(locator, (dropoff / "link.csv").as_uri()) == "object_uri_not_allowed"
    assert _rejected_code(locator, f"file://{dropoff}/../elsewhere/secret.csv") == "object_uri_not_allowed"
    assert _rejected_code(locator, "file:///etc/passwd") == "object_uri_not_allowed"
    assert _rejected_code(locator, "file://fileserver/share/a.csv") == "object_uri_invalid"
    assert _rejected_code(locator, "https://example.com/a.csv") == "object_uri_invalid"
    assert _rejected_code(locator, "s3://theirs/a.csv") == "object_uri_not_allowed"
    assert _rejected_code(locator, "s3://ours/") == "object_uri_invalid"
    assert _rejected_code(locator, "s3://ours/a.csv") == "object_store_not_configured"
    assert _rejected_code(locator, f"file://{dropoff}") == "object_uri_invalid"  # a directory


async def test_locator_hands_out_local_files_and_scratch_copies_of_s3_objects(tmp_path: Path, s3: Any,
                                                                              bucket: str) -> None:
    dropoff, scratch = tmp_path / "dropoff", tmp_path / "scratch"
    dropoff.mkdir()
    scratch.mkdir()
    data = b"Date,Amount\n01/02/2024,1.50\n"
    (dropoff / "a.csv").write_bytes(data)
    await s3.put_object(Bucket=bucket, Key="in/a.csv", Body=data)
    locator = ObjectLocator(roots=[dropoff], buckets=[bucket], s3=s3, scratch_dir=scratch)

    async with locator.local_copy((dropoff / "a.csv").as_uri(), hash_it=True) as local:
        assert (local.path, local.size_bytes, local.sha256) == (dropoff / "a.csv", len(data),
                                                                hashlib.sha256(data).hexdigest())
    async with locator.local_copy((dropoff / "a.csv").as_uri(), hash_it=False) as local:
        assert local.sha256 is None
    async with locator.local_copy(f"s3://{bucket}/in/a.csv", hash_it=True) as local:
        assert local.path.parent == scratch
        assert local.path.read_bytes() == data
        assert local.sha256 == hashlib.sha256(data).hexdigest()
    assert list(scratch.iterdir()) == []  # the scratch copy is gone

    for uri in ((dropoff / "missing.csv").as_uri(), f"s3://{bucket}/in/missing.csv"):
        with pytest.raises(ObjectRejected) as raised:
            async with locator.local_copy(uri, hash_it=True):
                pass
        assert raised.value.code == "object_not_found"
