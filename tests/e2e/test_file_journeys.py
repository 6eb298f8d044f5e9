"""The spec's file journeys through the gateway, as a user makes them: upload a CSV, see it processed and in the
data source list; upload an invalid file, read why (in the caller's language), retry with a valid one."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import aiohttp
import asyncpg
import pytest

from platform_common.testing import eventually

pytestmark = pytest.mark.e2e

FILES_SCHEMA = os.environ.get("FILES_POSTGRES__SCHEMA_NAME", "files")
MAPPING = {"value_date": "Date", "amount": "Amount", "currency": "Currency", "reference": "Reference",
           "counterparty": "Counterparty"}
GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
AMBIGUOUS_DETAIL = ("Die Datumswerte in Spalte „Date“ lassen sich mit dem Tag oder dem Monat zuerst lesen; bitte "
                    "legen Sie das date_format der Spalte fest (z. B. „DD/MM/YYYY“).")


def csv_bytes(*rows: str) -> bytes:
    return ("\n".join(["Date,Amount,Currency,Reference,Counterparty", *rows]) + "\n").encode()


def upload_form(data: bytes, filename: str, **fields: Any) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value if isinstance(value, str) else json.dumps(value))
    form.add_field("file", data, filename=filename, content_type="text/csv")
    return form


async def test_an_invalid_file_is_explained_then_a_valid_retry_is_committed_and_listed(  # type: ignore[no-untyped-def]
    platform, new_account, stack
) -> None:
    account = await new_account("file-journey")
    headers = {"Authorization": f"Bearer {account['access_token']}"}
    async with aiohttp.ClientSession(base_url=platform.url("gateway"), headers=headers) as http:
        async with http.post("/api/v2/projects", json={"name": "file journeys"}) as response:
            assert response.status == 201, await response.text()
            project_id = (await response.json())["id"]

        # 01/02 and 03/04: day-first or month-first, nothing in the file says which.
        ambiguous = csv_bytes("01/02/2024,10.00,EUR,INV-1,Acme", "03/04/2024,20.00,EUR,INV-2,Globex")
        async with http.post(f"/api/v2/projects/{project_id}/files?wait=60", headers=GERMAN,
                             data=upload_form(ambiguous, "april.csv", data_source_name="bank", mapping=MAPPING,
                                              on_error="reject")) as response:
            problem = await response.json()
            assert response.status == 422, problem
            assert response.headers["Content-Type"].startswith("application/problem+json")
        assert (problem["code"], problem["column"], problem["detail"]) == (
            "date_format_ambiguous", "Date", AMBIGUOUS_DETAIL)
        ambiguous_file, ambiguous_dataset = problem["file_id"], problem["dataset_id"]

        async with http.get(f"/api/v2/files/{ambiguous_file}", headers=GERMAN) as response:
            assert response.status == 200
            rejected = await response.json()
        assert rejected["status"] == "rejected"
        assert (rejected["problem"]["code"], rejected["problem"]["message"]) == (
            "date_format_ambiguous", AMBIGUOUS_DETAIL)
        async with http.get(f"/api/v2/files/{ambiguous_file}") as response:
            english = (await response.json())["problem"]
        assert english["code"] == "date_format_ambiguous" and english["message"].startswith("column 'Date' has dates")
        data_source_id = rejected["data_source_id"]

        async def listed(status: str, file_id: str) -> dict[str, Any] | None:
            async with http.get(f"/api/v2/projects/{project_id}/data-sources") as response:
                assert response.status == 200, await response.text()
                sources = (await response.json())["items"]
            found = [s for s in sources if s["id"] == data_source_id]
            assert len(found) == 1, sources
            source: dict[str, Any] = found[0]
            return source if (source["ingestion_status"], source["latest_file_id"]) == (status, file_id) else None

        async def rejection_listed() -> bool:
            return await listed("rejected", ambiguous_file) is not None

        await eventually(rejection_listed, timeout_s=60)

        # A second try, into the same data source: the dates now unambiguous, but one amount is not a number.
        bad_amount = csv_bytes("2024-02-01,10.00,EUR,INV-1,Acme", "2024-04-03,zwanzig,EUR,INV-2,Globex")
        async with http.post(f"/api/v2/projects/{project_id}/files?wait=60", headers=GERMAN,
                             data=upload_form(bad_amount, "april-2.csv", data_source_id=data_source_id,
                                              mapping=MAPPING, on_error="reject")) as response:
            problem = await response.json()
            assert response.status == 422, problem
        assert (problem["code"], problem["error_count"], problem["detail"]) == (
            "rows_invalid", 1, "Die Datei enthält ungültige Zeilen (1 Fehler); sie wurde gemäß on_error=reject "
                               "behandelt.")
        assert [(e["line"], e["column"], e["code"], e["message"]) for e in problem["errors"]] == [
            (3, "Amount", "amount_invalid", "„zwanzig“ in Spalte „Amount“ ist kein gültiger Betrag.")]
        bad_amount_dataset = problem["dataset_id"]

        # The retry that works: every date and amount readable.
        valid = csv_bytes("2024-02-01,10.00,EUR,INV-1,Acme", "2024-04-03,20.00,EUR,INV-2,Globex",
                          "2024-04-05,-3.50,EUR,INV-3,Initech")
        async with http.post(f"/api/v2/projects/{project_id}/files?wait=60", headers=GERMAN,
                             data=upload_form(valid, "april-fixed.csv", data_source_id=data_source_id,
                                              mapping=MAPPING, on_error="reject")) as response:
            committed = await response.json()
            assert response.status == 201, committed
        assert (committed["status"], committed["row_count"], committed["error_count"], committed["problem"],
                committed["data_source_id"], committed["duplicate"]) == ("committed", 3, 0, None, data_source_id,
                                                                          False)

        async def commit_listed() -> bool:
            return await listed("committed", committed["id"]) is not None

        await eventually(commit_listed, timeout_s=60)
        source = await listed("committed", committed["id"])
        assert source is not None
        assert (source["name"], source["latest_dataset_id"], source["row_count"], source["error_count"]) == (
            "bank", committed["dataset_id"], 3, 0)

        # Nothing from the bad attempts remains: their datasets are empty rejected shells, the valid one holds 3 rows.
        async with http.get(f"/api/v2/projects/{project_id}/data-sources/{data_source_id}/datasets") as response:
            assert response.status == 200
            datasets = (await response.json())["items"]
        assert sorted((d["id"], d["status"], d["row_count"]) for d in datasets) == sorted([
            (ambiguous_dataset, "rejected", 0), (bad_amount_dataset, "rejected", 0),
            (committed["dataset_id"], "committed", 3)])
        async with http.get(f"/api/v2/projects/{project_id}/datasets/{ambiguous_dataset}", headers=GERMAN) as response:
            shell = await response.json()
        assert (shell["status"], shell["row_count"], shell["committed_at"]) == ("rejected", 0, None)
        assert [(p["code"], p["message"]) for p in shell["problems"]] == [("date_format_ambiguous", AMBIGUOUS_DETAIL)]

    # No API lists stored records, so the records store itself confirms that only the valid upload's rows exist.
    conn = await asyncpg.connect(stack["RECON_PG_DSN"])
    try:
        stored = await conn.fetch(f"SELECT dataset_id, count(*) AS n FROM {FILES_SCHEMA}.records "
                                  "WHERE dataset_id = ANY($1::uuid[]) GROUP BY dataset_id",
                                  [uuid.UUID(d) for d in (ambiguous_dataset, bad_amount_dataset,
                                                          committed["dataset_id"])])
    finally:
        await conn.close()
    assert {str(row["dataset_id"]): row["n"] for row in stored} == {committed["dataset_id"]: 3}
