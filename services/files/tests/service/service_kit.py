"""Helpers for tests that talk to a running files service over HTTP and Kafka."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import aiohttp

from files.testing import FilesProcess
from platform_common.events import FileIngested, FileUploaded, decode
from platform_common.testing import read_all

BANK_MAPPING: dict[str, Any] = {"value_date": "Date", "amount": "Amount", "currency": "Currency",
                                "reference": "Reference", "counterparty": "Counterparty"}


def csv_bytes(*rows: str, header: str = "Date,Amount,Currency,Reference,Counterparty") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def form(data: bytes, filename: str = "statement.csv", **fields: Any) -> aiohttp.FormData:
    body = aiohttp.FormData()
    for name, value in fields.items():
        body.add_field(name, value if isinstance(value, str) else json.dumps(value))
    body.add_field("file", data, filename=filename, content_type="text/csv")
    return body


async def call(http: aiohttp.ClientSession, service: FilesProcess, method: str, path: str,
               **kwargs: Any) -> tuple[int, dict[str, Any], Any]:
    """(status, headers, JSON body) of one authenticated request."""
    headers = {**service.headers(), **kwargs.pop("headers", {})}
    async with http.request(method, service.url(path), headers=headers, **kwargs) as response:
        body = await response.json(content_type=None)
        return response.status, dict(response.headers), body


async def wait_for_file(http: aiohttp.ClientSession, service: FilesProcess, project_id: uuid.UUID,
                        file_id: str, *, timeout_s: float = 120) -> dict[str, Any]:
    """The file once ingestion finished; a dropped-off file is unknown (404) until the consumer registers it."""
    deadline = time.monotonic() + timeout_s
    while True:
        status, _, body = await call(http, service, "GET", f"/v1/projects/{project_id}/files/{file_id}")
        assert status in (200, 404), body
        finished = status == 200 and body["status"] in ("committed", "rejected", "duplicate", "failed")
        if finished or time.monotonic() > deadline:
            assert status == 200, body
            found: dict[str, Any] = body
            return found
        await asyncio.sleep(0.2)


async def events(bootstrap: str, topic: str, *, expected: int, timeout_s: float = 30) -> list[Any]:
    records = await read_all(bootstrap, topic, expected=expected, timeout_s=timeout_s)
    return [decode(record.value).event for record in records]


def uploaded(found: list[Any], file_id: str) -> list[FileUploaded]:
    return [e for e in found if isinstance(e, FileUploaded) and str(e.file_id) == file_id]


def ingested(found: list[Any], file_id: str) -> list[FileIngested]:
    return [e for e in found if isinstance(e, FileIngested) and str(e.file_id) == file_id]
