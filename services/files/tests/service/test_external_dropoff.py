"""External drop-off: another system stores an object and publishes file.uploaded; the files service ingests it
like an upload. Malformed or unauthorised events go to the dead-letter topic with a reason."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from service_kit import BANK_MAPPING, call, csv_bytes, events, ingested, wait_for_file

from files.testing import FilesProcess, ProjectsStub
from platform_common.events import FileUploaded, encode, wrap
from platform_common.kafka.producer import KafkaEventPublisher, build_producer
from platform_common.settings import KafkaSettings
from platform_common.testing import read_all
from platform_common.topics import dlq_name

pytestmark = pytest.mark.integration
FILES_ENV = {"FILES_STORAGE__EXTERNAL_ROOTS": lambda request: f'["{request.getfixturevalue("workdir") / "dropoff"}"]'}


@pytest.fixture
async def publisher(kafka_bootstrap: str) -> AsyncIterator[KafkaEventPublisher]:
    producer = build_producer(KafkaSettings(bootstrap_servers=kafka_bootstrap), client_id="erp")
    await producer.start()
    try:
        yield KafkaEventPublisher(producer, service="erp", timeout_s=15)
    finally:
        await producer.stop()


@pytest.fixture
def dropoff(workdir: Path) -> Path:
    folder = workdir / "dropoff"
    folder.mkdir(exist_ok=True)
    return folder


async def data_source(http: aiohttp.ClientSession, service: FilesProcess, projects: ProjectsStub,
                      project: uuid.UUID) -> uuid.UUID:
    """A projects data source set up for drop-offs: saving its template registers it with files."""
    source_id = projects.add_data_source(project, f"erp-{uuid.uuid4().hex[:6]}")
    status, _, saved = await call(http, service, "PUT", f"/v1/projects/{project}/data-sources/{source_id}/mapping",
                                  json={"mapping": BANK_MAPPING})
    assert status == 200, saved
    return source_id


async def drop(publisher: KafkaEventPublisher, topic: str, event: FileUploaded, *, key: bytes | None = None) -> None:
    envelope = wrap(event, producer="erp")
    await publisher.send_raw(topic, encode(envelope), key=key or event.partition_key(), message_id=str(envelope.id))


async def test_a_dropped_off_file_is_ingested_like_an_upload(
        service: FilesProcess, http: aiohttp.ClientSession, project: uuid.UUID, publisher: KafkaEventPublisher,
        dropoff: Path, db: asyncpg.Connection, kafka_bootstrap: str, projects: ProjectsStub) -> None:
    source_id = await data_source(http, service, projects, project)
    data = csv_bytes("22/03/2024,10.00,EUR,E-1,Erp", "23/03/2024,11.00,EUR,E-2,Erp")
    (dropoff / "march.csv").write_bytes(data)
    event = FileUploaded(file_id=uuid.uuid4(), project_id=project, data_source_id=source_id,
                         object_uri=(dropoff / "march.csv").as_uri(), filename="march.csv",
                         sha256=hashlib.sha256(data).hexdigest(), origin="external")
    await drop(publisher, service.topics[0], event)
    file = await wait_for_file(http, service, project, str(event.file_id))
    assert (file["status"], file["origin"], file["row_count"], file["sha256"]) == (
        "committed", "external", 2, event.sha256)
    assert await db.fetchval("SELECT count(*) FROM records WHERE dataset_id = $1", file["dataset_id"]) == 2
    [done] = ingested(await events(kafka_bootstrap, service.topics[1], expected=10_000, timeout_s=6),
                      str(event.file_id))
    assert (done.status, done.row_count) == ("committed", 2)


async def test_malformed_or_unauthorised_drop_offs_are_dead_lettered_with_a_reason(
        service: FilesProcess, http: aiohttp.ClientSession, project: uuid.UUID, publisher: KafkaEventPublisher,
        dropoff: Path, db: asyncpg.Connection, kafka_bootstrap: str, workdir: Path, projects: ProjectsStub) -> None:
    source_id = await data_source(http, service, projects, project)
    data = csv_bytes("24/03/2024,1.00,EUR,D-1,Erp")
    (dropoff / "real.csv").write_bytes(data)
    outside = workdir / "not-a-dropoff"
    outside.mkdir()
    (outside / "secret.csv").write_bytes(data)
    topic = service.topics[0]

    def event(uri: str, **changes: object) -> FileUploaded:
        fields = {"file_id": uuid.uuid4(), "project_id": project, "data_source_id": source_id, "object_uri": uri,
                  "filename": "x.csv", "origin": "external", **changes}
        return FileUploaded.model_validate(fields)

    cases = {
        b"outside-roots": event((outside / "secret.csv").as_uri()),
        b"system-file": event("file:///etc/passwd"),
        b"foreign-bucket": event("s3://someone-elses-bucket/x.csv"),
        b"unknown-source": event((dropoff / "real.csv").as_uri(), data_source_id=uuid.uuid4()),
        b"other-project": event((dropoff / "real.csv").as_uri(), project_id=uuid.uuid4()),
        b"missing-object": event((dropoff / "gone.csv").as_uri()),
        b"wrong-checksum": event((dropoff / "real.csv").as_uri(), sha256="0" * 64),
    }
    for key, bad in cases.items():
        await drop(publisher, topic, bad, key=key)
    await publisher.send_raw(topic, b"{not json", key=b"not-json")
    envelope = wrap(event((dropoff / "real.csv").as_uri()), producer="erp").model_copy(update={"data": {"x": 1}})
    await publisher.send_raw(topic, encode(envelope), key=b"bad-data")

    expected = {b"outside-roots": "object_uri_not_allowed", b"system-file": "object_uri_not_allowed",
                b"foreign-bucket": "object_uri_not_allowed", b"unknown-source": "data_source_unknown",
                b"other-project": "data_source_unknown", b"missing-object": "object_not_found",
                b"wrong-checksum": "object_checksum_mismatch", b"not-json": "message_not_json",
                b"bad-data": "event_data_invalid"}
    letters = await read_all(kafka_bootstrap, dlq_name(topic), expected=len(expected), timeout_s=90)
    reasons = {record.key: dict(record.headers) for record in letters}
    assert {key: headers[ "x-error-code"].decode() for key, headers in reasons.items()} == expected
    assert all(headers["x-error-message"] for headers in reasons.values())
    assert reasons[b"wrong-checksum"]["x-original-topic"] == topic.encode()
    assert await db.fetchval("SELECT count(*) FROM files WHERE data_source_id = $1", source_id) == 0

    # The partition is not blocked: a good drop-off after the bad ones is ingested.
    good = event((dropoff / "real.csv").as_uri(), sha256=hashlib.sha256(data).hexdigest())
    await drop(publisher, topic, good, key=b"unknown-source")
    assert (await wait_for_file(http, service, project, str(good.file_id)))["status"] == "committed"
