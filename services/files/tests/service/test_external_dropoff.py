"""External drop-off: another system stores an object and publishes file.uploaded; the files service ingests it
like an upload. Malformed or unauthorised events go to the dead-letter topic with a reason."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from service_kit import BANK_MAPPING, call, csv_bytes, events, form, ingested, wait_for_file

from files.adapters.repository import PgFilesRepository
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


async def test_a_drop_off_of_bytes_still_queued_is_a_duplicate_of_the_queued_file(
        service: FilesProcess, http: aiohttp.ClientSession, project: uuid.UUID, publisher: KafkaEventPublisher,
        dropoff: Path, db: asyncpg.Connection, kafka_bootstrap: str, projects: ProjectsStub) -> None:
    source_id = await data_source(http, service, projects, project)
    data = csv_bytes(f"25/03/2024,5.00,EUR,{uuid.uuid4().hex},Erp")
    sha = hashlib.sha256(data).hexdigest()
    # An upload of the same bytes, registered as the upload path leaves it until its event is consumed.
    queued = await PgFilesRepository(db).add_upload(
        file_id=uuid.uuid4(), project_id=project, data_source_id=source_id, object_uri="file:///queued.csv",
        filename="queued.csv", sha256=sha, size_bytes=len(data), on_error="reject", mapping=None,
        parse_options=None, content_type="text/csv", uploaded_by=None)
    assert queued is not None
    (dropoff / "queued-twin.csv").write_bytes(data)
    event = FileUploaded(file_id=uuid.uuid4(), project_id=project, data_source_id=source_id,
                         object_uri=(dropoff / "queued-twin.csv").as_uri(), filename="queued-twin.csv",
                         origin="external")
    key = f"queued-twin-{event.file_id}".encode()
    envelope = wrap(event, producer="erp")
    await publisher.send_raw(service.topics[0], encode(envelope), key=key, message_id=str(envelope.id))

    file = await wait_for_file(http, service, project, str(event.file_id))
    assert (file["status"], file["duplicate_of"], file["sha256"], file["problem"]) == (
        "duplicate", str(queued), sha, None), file
    assert (await db.fetchval("SELECT status FROM files WHERE id = $1", queued)) == "received"
    assert await db.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'files' AND event_id = $1", envelope.id) == 1
    [done] = ingested(await events(kafka_bootstrap, service.topics[1], expected=10_000, timeout_s=6),
                      str(event.file_id))
    assert (done.status, done.dataset_id, done.row_count) == ("duplicate", None, 0)
    letters = await read_all(kafka_bootstrap, dlq_name(service.topics[0]), expected=10_000, timeout_s=4)
    assert [record for record in letters if record.key == key] == []


async def test_an_upload_and_a_drop_off_of_the_same_bytes_at_once_end_as_one_file_and_one_duplicate(
        service: FilesProcess, http: aiohttp.ClientSession, project: uuid.UUID, publisher: KafkaEventPublisher,
        dropoff: Path, kafka_bootstrap: str, projects: ProjectsStub) -> None:
    async def race(round_no: int) -> tuple[uuid.UUID, dict[str, Any], bytes]:
        source_id = await data_source(http, service, projects, project)
        data = csv_bytes(*(f"26/03/2024,{n}.00,EUR,R{round_no}-{n}-{uuid.uuid4().hex},Erp" for n in range(1, 2000)))
        (dropoff / f"race-{round_no}.csv").write_bytes(data)
        event = FileUploaded(file_id=uuid.uuid4(), project_id=project, data_source_id=source_id,
                             object_uri=(dropoff / f"race-{round_no}.csv").as_uri(), filename=f"race-{round_no}.csv",
                             origin="external")
        key = f"race-{event.file_id}".encode()
        upload = call(http, service, "POST", f"/v1/projects/{project}/files",
                      data=form(data, data_source_id=str(source_id)))
        (status, _, answer), _ = await asyncio.gather(
            upload, drop(publisher, service.topics[0], event, key=key))
        assert status in (200, 201), answer
        return event.file_id, answer, key

    rounds = await asyncio.gather(*(race(n) for n in range(4)))
    for dropped_id, answer, _ in rounds:
        dropped = await wait_for_file(http, service, project, str(dropped_id))
        if answer["duplicate"]:  # the drop-off held the bytes first: the upload was answered with it
            assert (answer["id"], dropped["status"], dropped["duplicate_of"]) == (
                str(dropped_id), "committed", None), (answer, dropped)
            continue
        uploaded_file = await wait_for_file(http, service, project, answer["id"])
        statuses = {uploaded_file["id"]: uploaded_file["status"], dropped["id"]: dropped["status"]}
        assert sorted(statuses.values()) == ["committed", "duplicate"], statuses
        duplicate, original = (dropped, uploaded_file) if dropped["status"] == "duplicate" else (uploaded_file, dropped)
        assert duplicate["duplicate_of"] == original["id"]
    letters = await read_all(kafka_bootstrap, dlq_name(service.topics[0]), expected=10_000, timeout_s=4)
    keys = {key for _, _, key in rounds}
    assert [record for record in letters if record.key in keys] == []
