"""Uploads through the files service's HTTP API, ingested by its consumer, on the real stack."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from service_kit import BANK_MAPPING, call, csv_bytes, events, form, ingested, uploaded

from files.testing import FilesProcess, ProjectsStub

pytestmark = pytest.mark.integration
MIB = 1024 * 1024
FILES_ENV = {"FILES_STORAGE__MAX_UPLOAD_BYTES": str(MIB)}


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


async def test_the_seed_error_journey(service: FilesProcess, http: aiohttp.ClientSession, project: uuid.UUID,
                                      db: asyncpg.Connection, projects: ProjectsStub) -> None:
    bad = csv_bytes("31/01/2024,12.00,EUR,INV-1,Acme", "31/01/2024,twelve,EUR,INV-2,Acme",
                    "01/02/2024,3.00,EUR,INV-3,Acme")
    status, headers, problem = await call(http, service, "POST", f"/v1/projects/{project}/files?wait=60",
                                          data=form(bad, data_source_name="bank", mapping=BANK_MAPPING))
    assert status == 422, problem
    assert headers["Content-Type"].startswith("application/problem+json")
    assert (problem["code"], problem["title"], problem["error_count"]) == ("rows_invalid", "The file was rejected", 1)
    assert [(e["line"], e["column"], e["code"], e["raw_value"]) for e in problem["errors"]] == [
        (3, "Amount", "amount_invalid", "twelve")]

    good = csv_bytes("31/01/2024,12.00,EUR,INV-1,Acme", "31/01/2024,12.50,EUR,INV-2,Acme",
                     "01/02/2024,3.00,EUR,INV-3,Acme")
    status, _, file = await call(http, service, "POST", f"/v1/projects/{project}/files?wait=60",
                                 data=form(good, data_source_name="bank", mapping=BANK_MAPPING))
    assert (status, file["status"], file["row_count"], file["duplicate"]) == (201, "committed", 3, False), file

    # Nothing from the bad attempt remains: its dataset is a rejected shell with its error report, no rows.
    status, _, rejected = await call(http, service, "GET", f"/v1/projects/{project}/datasets/{problem['dataset_id']}")
    assert (status, rejected["status"], rejected["row_count"]) == (200, "rejected", 0)
    assert await db.fetchval("SELECT count(*) FROM records WHERE dataset_id = $1",
                             uuid.UUID(problem["dataset_id"])) == 0
    assert await db.fetchval("SELECT count(*) FROM records r JOIN datasets d ON d.id = r.dataset_id "
                             "WHERE d.project_id = $1", project) == 3
    status, _, report = await call(http, service, "GET",
                                   f"/v1/projects/{project}/datasets/{problem['dataset_id']}/errors")
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(3, "amount_invalid")]

    # "bank" was created in the projects service by the first upload that named it; both files went there.
    [(source_id, name)] = projects.data_sources[project].items()
    assert (name, str(source_id)) == ("bank", file["data_source_id"])
    status, _, datasets = await call(http, service, "GET", f"/v1/projects/{project}/data-sources/{source_id}/datasets")
    assert [(d["status"], d["row_count"], d["error_count"]) for d in datasets["items"]] == [
        ("committed", 3, 0), ("rejected", 0, 1)]


async def test_a_rejected_file_is_explained_in_the_callers_language(service: FilesProcess, http: aiohttp.ClientSession,
                                                                   project: uuid.UUID, db: asyncpg.Connection) -> None:
    german = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
    nothing_good = csv_bytes("31/01/2024,twelve,EUR,INV-1,Acme", "31/01/2024,,EUR,INV-2,Acme")
    status, _, problem = await call(http, service, "POST", f"/v1/projects/{project}/files?wait=60", headers=german,
                                    data=form(nothing_good, data_source_name="bank", mapping=BANK_MAPPING,
                                              on_error="skip"))
    assert (status, problem["code"], problem["error_count"]) == (422, "no_valid_rows", 2), problem
    assert problem["detail"] == "Keine der 2 Datenzeilen konnte gelesen werden; die Zeilenfehler nennen die Gründe."
    assert [(e["line"], e["code"], e["message"]) for e in problem["errors"]] == [
        (2, "amount_invalid", "„twelve“ in Spalte „Amount“ ist kein gültiger Betrag."),
        (3, "required_missing", "Die Pflichtspalte „Amount“ ist leer.")]
    assert await db.fetchval("SELECT count(*) FROM records r JOIN datasets d ON d.id = r.dataset_id "
                             "WHERE d.project_id = $1", project) == 0

    for path in (f"/v1/projects/{project}/files/{problem['file_id']}", f"/v1/files/{problem['file_id']}"):
        status, _, file = await call(http, service, "GET", path, headers=german)
        assert (status, file["status"], file["problem"]["code"]) == (200, "rejected", "no_valid_rows")
        assert file["problem"]["message"] == ("Keine der 2 Datenzeilen konnte gelesen werden; die Zeilenfehler "
                                              "nennen die Gründe.")
    status, _, file = await call(http, service, "GET", path)
    assert (status, file["problem"]["code"], file["problem"]["message"]) == (
        200, "no_valid_rows", "none of the 2 data rows could be read; see the row errors")

    status, _, report = await call(http, service, "GET",
                                   f"/v1/projects/{project}/datasets/{problem['dataset_id']}/errors", headers=german)
    assert status == 200
    assert [p["message"] for p in report["problems"]] == [
        "Keine der 2 Datenzeilen konnte gelesen werden; die Zeilenfehler nennen die Gründe."]
    assert [e["message"] for e in report["errors"]] == ["„twelve“ in Spalte „Amount“ ist kein gültiger Betrag.",
                                                        "Die Pflichtspalte „Amount“ ist leer."]
    status, _, english = await call(http, service, "GET",
                                    f"/v1/projects/{project}/datasets/{problem['dataset_id']}/errors")
    assert [e["message"] for e in english["errors"]] == ["'twelve' is not an amount", "'Amount' is empty but required"]


async def test_an_unreadable_file_is_refused_with_its_reason(service: FilesProcess, http: aiohttp.ClientSession,
                                                             project: uuid.UUID) -> None:
    status, _, problem = await call(http, service, "POST", f"/v1/projects/{project}/files?wait=60",
                                    data=form(b"", data_source_name="bank", mapping=BANK_MAPPING))
    assert (status, problem["code"], problem["errors"]) == (422, "file_empty", [])


async def test_the_same_bytes_uploaded_twice_are_reported_not_stored_twice(
        service: FilesProcess, http: aiohttp.ClientSession, project: uuid.UUID, db: asyncpg.Connection) -> None:
    data = csv_bytes(f"15/03/2024,99.99,EUR,{uuid.uuid4().hex},Once")
    status, _, first = await call(http, service, "POST", f"/v1/projects/{project}/files?wait=60",
                                  data=form(data, data_source_name="bank", mapping=BANK_MAPPING))
    assert (status, first["status"]) == (201, "committed")
    status, headers, second = await call(http, service, "POST", f"/v1/projects/{project}/files",
                                         data=form(data, data_source_name="bank", mapping=BANK_MAPPING))
    assert (status, second["duplicate"], second["id"], second["status"]) == (200, True, first["id"], "committed")
    assert headers["Location"] == f"/v1/projects/{project}/files/{first['id']}"
    sha = hashlib.sha256(data).hexdigest()
    assert await db.fetchval("SELECT count(*) FROM files WHERE sha256 = $1", sha) == 1
    assert [p.name for p in files_under(service.root) if p.name == sha] == [sha]


async def _chunked(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 64 * 1024):
        yield body[start:start + 64 * 1024]


async def test_a_file_over_the_limit_is_refused_with_the_limit_named(
        service: FilesProcess, http: aiohttp.ClientSession, project: uuid.UUID, db: asyncpg.Connection) -> None:
    big = b"Date,Amount\n" + b"01/02/2024,1.00\n" * (2 * MIB // 16)
    status, _, problem = await call(http, service, "POST", f"/v1/projects/{project}/files",
                                    data=form(big, data_source_name="bank", mapping=BANK_MAPPING))
    assert (status, problem["code"], problem["detail"]) == (413, "file_too_large", "File exceeds the 1 MB limit")
    status, _, problem = await call(http, service, "POST", f"/v1/projects/{project}/files",
                                    data=form(big, data_source_name="bank"), headers={"Accept-Language": "de"})
    assert (status, problem["detail"]) == (413, "Die Datei überschreitet die Grenze von 1 MB")

    # Without a Content-Length the limit is enforced while streaming.
    writer = aiohttp.MultipartWriter("form-data")
    part = writer.append(_chunked(big), {"Content-Type": "text/csv"})
    part.set_content_disposition("form-data", name="file", filename="big.csv")
    status, _, problem = await call(http, service, "POST", f"/v1/projects/{project}/files", data=writer)
    assert (status, problem["code"], problem["detail"]) == (413, "file_too_large", "File exceeds the 1 MB limit")
    assert await db.fetchval("SELECT count(*) FROM files WHERE project_id = $1", project) == 0
    assert [p for p in files_under(service.root) if "staging" in p.parts] == []


async def test_uploads_and_outcomes_are_announced_on_kafka(service: FilesProcess, http: aiohttp.ClientSession,
                                                          project: uuid.UUID, kafka_bootstrap: str) -> None:
    data = csv_bytes(f"16/03/2024,5.00,EUR,{uuid.uuid4().hex},Announce")
    status, _, file = await call(http, service, "POST", f"/v1/projects/{project}/files?wait=60",
                                 data=form(data, data_source_name="bank", mapping=BANK_MAPPING, on_error="skip"))
    assert (status, file["status"]) == (201, "committed")
    [up] = uploaded(await events(kafka_bootstrap, service.topics[0], expected=10_000, timeout_s=6), file["id"])
    assert (up.sha256, up.size_bytes, up.origin, up.on_error, str(up.data_source_id), up.filename) == (
        hashlib.sha256(data).hexdigest(), len(data), "upload", "skip", file["data_source_id"], "statement.csv")
    assert up.object_uri.startswith("file://") and up.object_uri.endswith(up.sha256 or "")
    assert up.uploaded_by == service.user_id
    [done] = ingested(await events(kafka_bootstrap, service.topics[1], expected=10_000, timeout_s=6), file["id"])
    assert (done.status, str(done.dataset_id), done.row_count) == ("committed", file["dataset_id"], 1)


async def test_templates_preview_and_the_error_report(service: FilesProcess, http: aiohttp.ClientSession,
                                                      project: uuid.UUID, db: asyncpg.Connection,
                                                      projects: ProjectsStub) -> None:
    base = f"/v1/projects/{project}/data-sources"
    source = {"id": str(projects.add_data_source(project, "ledger"))}  # defined in the projects service
    status, _, empty = await call(http, service, "GET", f"{base}/{source['id']}/mapping")
    assert (status, empty["mapping"], empty["parse_options"]) == (200, None, {})
    status, _, problem = await call(http, service, "PUT", f"{base}/{source['id']}/mapping",
                                    json={"mapping": {"amount": "Amount", "debit": "Debit"}})
    assert (status, problem["code"]) == (422, "mapping_invalid")
    status, _, saved = await call(http, service, "PUT", f"{base}/{source['id']}/mapping",
                                  json={"mapping": BANK_MAPPING, "parse_options": {"on_error": "skip"}})
    assert (status, saved["mapping"]["amount"]["column"], saved["parse_options"]) == (200, "Amount",
                                                                                       {"on_error": "skip"})
    status, _, again = await call(http, service, "GET", f"{base}/{source['id']}/mapping")
    assert again["mapping"] == saved["mapping"]

    data = csv_bytes('17/03/2024,"1.234,50",EUR,A-1,Acme', "18/03/2024,oops,EUR,A-2,Acme",
                     "19/03/2024,-7,EUR,A-3,Acme")
    status, _, preview = await call(http, service, "POST", f"{base}/{source['id']}/preview", data=form(data))
    assert status == 200, preview
    assert preview["format"] == "csv"
    assert [(c["name"], c["type"]) for c in preview["columns"]][:2] == [("Date", "date"), ("Amount", "text")]
    assert [(r["line"], r["amount"], r["value_date"]) for r in preview["rows"]] == [
        (2, "1234.50", "2024-03-17"), (4, "-7", "2024-03-19")]
    assert [(e["line"], e["code"]) for e in preview["errors"]] == [(3, "amount_invalid")]
    assert await db.fetchval("SELECT count(*) FROM files WHERE data_source_id = $1",
                             uuid.UUID(source["id"])) == 0  # a preview commits nothing

    status, _, file = await call(http, service, "POST", f"{base}/{source['id']}/files?wait=60", data=form(data))
    assert (status, file["status"], file["row_count"], file["error_count"]) == (201, "committed", 2, 1)
    status, _, datasets = await call(http, service, "GET", f"{base}/{source['id']}/datasets")
    assert [(d["status"], d["row_count"], d["error_count"]) for d in datasets["items"]] == [("committed", 2, 1)]
    status, _, report = await call(http, service, "GET",
                                   f"/v1/projects/{project}/datasets/{file['dataset_id']}/errors?limit=10")
    assert [(e["line"], e["column"], e["code"], e["raw_value"]) for e in report["errors"]] == [
        (3, "Amount", "amount_invalid", "oops")]


async def test_the_seed_upload_route_still_answers_and_says_it_is_deprecated(
        service: FilesProcess, http: aiohttp.ClientSession, project: uuid.UUID) -> None:
    data = csv_bytes(f"20/03/2024,1.00,EUR,{uuid.uuid4().hex},Legacy")
    status, headers, file = await call(http, service, "POST", f"/v1/files/upload?project_id={project}",
                                       data=form(data, data_source_name="bank", mapping=BANK_MAPPING))
    assert (status, file["status"]) == (201, "committed")  # it waits for the outcome, as the seed did
    assert headers["Deprecation"] == "true"
    assert headers["Sunset"] == "Tue, 01 Jun 2027 00:00:00 GMT"
    assert headers["Link"] == f'</api/v2/projects/{project}/files>; rel="successor-version"'


async def test_only_members_who_may_edit_can_upload(service: FilesProcess, http: aiohttp.ClientSession,
                                                    projects: ProjectsStub) -> None:
    data = csv_bytes("21/03/2024,1.00,EUR,X,Y")
    stranger = uuid.uuid4()
    status, _, problem = await call(http, service, "POST", f"/v1/projects/{stranger}/files",
                                    data=form(data, data_source_name="bank"))
    assert (status, problem["code"]) == (404, "project_not_found")
    viewer = projects.grant(uuid.uuid4(), "viewer")
    status, _, problem = await call(http, service, "POST", f"/v1/projects/{viewer}/files",
                                    data=form(data, data_source_name="bank"))
    assert (status, problem["code"]) == (403, "project_forbidden")
    async with http.post(service.url(f"/v1/projects/{viewer}/files"), data=form(data)) as response:
        assert (response.status, (await response.json())["code"]) == (401, "unauthenticated")


async def test_uploads_go_to_data_sources_the_projects_service_knows(
        service: FilesProcess, http: aiohttp.ClientSession, project: uuid.UUID, projects: ProjectsStub) -> None:
    source_id = projects.add_data_source(project, "defined in projects")
    data = csv_bytes(f"22/03/2024,1.00,EUR,{uuid.uuid4().hex},Known")
    status, _, file = await call(http, service, "POST", f"/v1/projects/{project}/data-sources/{source_id}/files"
                                 "?wait=60", data=form(data, mapping=BANK_MAPPING))
    assert (status, file["status"], file["data_source_id"]) == (201, "committed", str(source_id))

    unknown = uuid.uuid4()
    status, _, problem = await call(http, service, "POST", f"/v1/projects/{project}/data-sources/{unknown}/files",
                                    data=form(data, mapping=BANK_MAPPING))
    assert (status, problem["code"]) == (404, "data_source_not_found")
    other_project = projects.grant(uuid.uuid4())
    status, _, problem = await call(http, service, "PUT", f"/v1/projects/{other_project}/data-sources/{source_id}"
                                    "/mapping", json={"mapping": BANK_MAPPING})
    assert (status, problem["code"]) == (404, "data_source_not_found")  # another project's source
