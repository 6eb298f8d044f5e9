"""The S3 backend against a real S3 API (moto_server): uploads stream into a multipart upload and land at their
content address; ingestion reads them back from s3://; external drop-offs come from an allowed bucket."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import aiohttp
import boto3
import pytest
from service_kit import BANK_MAPPING, call, csv_bytes, form, wait_for_file

from files.adapters.storage import content_key
from files.testing import FilesProcess, ProjectsStub
from platform_common.events import FileUploaded, encode, wrap
from platform_common.kafka.producer import KafkaEventPublisher, build_producer
from platform_common.settings import KafkaSettings

pytestmark = pytest.mark.integration
MIB = 1024 * 1024
BUCKET = f"uploads-{uuid.uuid4().hex[:8]}"
DROPOFF_BUCKET = f"erp-dropoff-{uuid.uuid4().hex[:8]}"


def _s3(request: pytest.FixtureRequest) -> Any:
    endpoint = request.getfixturevalue("s3_endpoint")
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test")  # noqa: S106 - emulator credentials


def _endpoint_with_buckets(request: pytest.FixtureRequest) -> str:
    client = _s3(request)
    for bucket in (BUCKET, DROPOFF_BUCKET):
        client.create_bucket(Bucket=bucket)
    return str(request.getfixturevalue("s3_endpoint"))


FILES_ENV = {
    "FILES_STORAGE__BACKEND": "s3",
    "FILES_STORAGE__S3__ENDPOINT_URL": _endpoint_with_buckets,
    "FILES_STORAGE__S3__BUCKET": BUCKET,
    "FILES_STORAGE__S3__ACCESS_KEY_ID": "test",
    "FILES_STORAGE__S3__SECRET_ACCESS_KEY": "test",
    "FILES_STORAGE__S3__PART_SIZE_BYTES": str(5 * MIB),
    "FILES_STORAGE__EXTERNAL_BUCKETS": f'["{DROPOFF_BUCKET}"]',
}


@pytest.fixture
def s3(request: pytest.FixtureRequest, service: FilesProcess) -> Any:
    return _s3(request)


def statement(rows: int) -> bytes:
    lines = [f"{1 + n % 28:02d}/{1 + n % 12:02d}/2024,{n}.{n % 100:02d},EUR,S3-{n:07d},Counterparty {n % 97}"
             for n in range(rows)]
    return csv_bytes("13/12/2024,0.01,EUR,S3-first,First", *lines)


async def test_an_upload_streams_into_s3_and_is_ingested_from_there(
        service: FilesProcess, http: aiohttp.ClientSession, project: uuid.UUID, s3: Any) -> None:
    data = statement(220_000)
    assert len(data) > 10 * MIB  # three multipart parts of 5 MiB
    status, _, file = await call(http, service, "POST", f"/v1/projects/{project}/files?wait=60",
                                 data=form(data, data_source_name="bank", mapping=BANK_MAPPING))
    assert (status, file["status"], file["row_count"]) == (201, "committed", 220_001), file
    sha = hashlib.sha256(data).hexdigest()
    key = content_key(sha)
    assert file["object_uri"] == f"s3://{BUCKET}/{key}"
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentLength"] == len(data)
    listed = s3.list_objects_v2(Bucket=BUCKET)
    assert [item["Key"] for item in listed["Contents"]] == [key]  # no staging leftovers
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


async def test_a_drop_off_in_an_allowed_bucket_is_ingested(
        service: FilesProcess, http: aiohttp.ClientSession, project: uuid.UUID, s3: Any, kafka_bootstrap: str,
        projects: ProjectsStub) -> None:
    source_id = projects.add_data_source(project, "erp")
    status, _, saved = await call(http, service, "PUT", f"/v1/projects/{project}/data-sources/{source_id}/mapping",
                                  json={"mapping": BANK_MAPPING})
    assert status == 200, saved
    data = csv_bytes("25/03/2024,3.00,EUR,S3-D1,Erp", "26/03/2024,4.00,EUR,S3-D2,Erp")
    s3.put_object(Bucket=DROPOFF_BUCKET, Key="exports/march.csv", Body=data)
    event = FileUploaded(file_id=uuid.uuid4(), project_id=project, data_source_id=source_id,
                         object_uri=f"s3://{DROPOFF_BUCKET}/exports/march.csv", filename="march.csv",
                         origin="external")
    producer = build_producer(KafkaSettings(bootstrap_servers=kafka_bootstrap), client_id="erp")
    await producer.start()
    try:
        envelope = wrap(event, producer="erp")
        await KafkaEventPublisher(producer, service="erp", timeout_s=15).send_raw(
            service.topics[0], encode(envelope), key=event.partition_key())
    finally:
        await producer.stop()
    file = await wait_for_file(http, service, project, str(event.file_id))
    assert (file["status"], file["row_count"], file["sha256"]) == ("committed", 2, hashlib.sha256(data).hexdigest())
