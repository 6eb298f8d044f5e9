"""A demo reconciliation through the public API (scripts/dev up runs it after the services are ready).

Registers a user, creates a project, uploads the example bank statement and ledger into two data sources,
waits for ingestion, starts a job with the example rules, follows it to completion and prints the summary.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import aiohttp
import yaml

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "bank-vs-ledger"
GATEWAY = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8080")

# The example files in the files service's mapping format (the CLI's rules.yaml carries its own).
BANK_MAPPING = {
    "external_id": "Txn ID", "booking_date": {"column": "Booking Date", "date_format": "%d.%m.%Y"},
    "value_date": {"column": "Value Date", "date_format": "%d.%m.%Y"},
    "amount": {"column": "Amount", "decimal_separator": ",", "thousands_separator": "."},
    "currency": "Currency", "counterparty": "Counterparty", "description": "Details", "reference": "End-to-End Ref",
}
LEDGER_MAPPING = {
    "external_id": "entry_id", "value_date": "posting_date", "amount": {"column": "amount", "decimal_separator": "."},
    "currency": "ccy", "counterparty": "customer", "reference": "invoice_no", "description": "memo",
}


def say(message: str) -> None:
    print(f"[demo] {message}", file=sys.stderr, flush=True)


async def call(http: aiohttp.ClientSession, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    async with http.request(method, GATEWAY + path, **kwargs) as response:
        body = await response.json(content_type=None)
        if response.status >= 400:
            raise SystemExit(f"[demo] {method} {path} -> {response.status}: {json.dumps(body)}")
        return body  # type: ignore[no-any-return]


async def upload(http: aiohttp.ClientSession, project_id: str, name: str, content: bytes, filename: str,
                 mapping: dict[str, Any]) -> dict[str, Any]:
    form = aiohttp.FormData()
    form.add_field("data_source_name", name)
    form.add_field("mapping", json.dumps(mapping))
    form.add_field("save_as_template", "true")
    form.add_field("file", content, filename=filename, content_type="text/csv")
    return await call(http, "POST", f"/api/v2/projects/{project_id}/files?wait=60", data=form)


async def main() -> None:
    rules = yaml.safe_load((EXAMPLE / "rules.yaml").read_text())
    rules.pop("mapping", None)
    files = {name: (EXAMPLE / name).read_bytes() for name in ("bank.csv", "ledger.csv")}
    async with aiohttp.ClientSession() as http:
        email, password = f"demo-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(16)
        await call(http, "POST", "/api/v2/auth/register", json={"email": email, "password": password,
                                                                  "display_name": "Demo"})
        tokens = await call(http, "POST", "/api/v2/auth/login", json={"email": email, "password": password})
        http.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        project = await call(http, "POST", "/api/v2/projects", json={"name": "Demo: bank vs ledger"})
        say(f"signed in as {email}; project {project['id']}")
        bank = await upload(http, project["id"], "Bank statement", files["bank.csv"], "bank.csv", BANK_MAPPING)
        ledger = await upload(http, project["id"], "Sales ledger", files["ledger.csv"], "ledger.csv", LEDGER_MAPPING)
        say(f"ingested: bank {bank.get('status')} ({bank.get('row_count')} rows), "
            f"ledger {ledger.get('status')} ({ledger.get('row_count')} rows)")
        job = await call(http, "POST", f"/api/v2/projects/{project['id']}/jobs",
                         json={"left_dataset_id": bank["dataset_id"], "right_dataset_id": ledger["dataset_id"],
                               "rule_set": rules})
        say(f"job {job['id']} started: job.started -> shard.requested -> match.batch -> job.completed")
        for _ in range(120):
            job = await call(http, "GET", f"/api/v2/jobs/{job['id']}")
            if job["status"] != "running":
                break
            await asyncio.sleep(0.5)
        results = await call(http, "GET", f"/api/v2/jobs/{job['id']}/results")
        print(json.dumps(results, indent=2))
        if job["status"] != "succeeded":
            raise SystemExit(f"[demo] job ended {job['status']}: {job.get('detail')}")
        say(f"job {job['status']}: {results.get('matched')} matched, {results.get('review')} to review, "
            f"{results.get('unmatched_left')} + {results.get('unmatched_right')} unmatched")


if __name__ == "__main__":
    asyncio.run(main())
