"""End-to-end ingest benchmark: a 1,000,000-row, ~100 MB CSV from HTTP upload to committed records.

    uv run python bench/ingest/run.py [--rows N] [--repeat K] [--workers W]

Starts the files service as a real process on the local stack (its own schema, topics and object root;
callers authenticate like the gateway's; roles and data sources come from files.testing.ProjectsStub),
uploads the file with aiohttp streaming it from disk, and polls the file until it is committed. Reported
per run:

* rows/s end to end: rows / (committed seen - upload started), the upload included;
* upload seconds (until the HTTP answer) and the service's own stage timings (copy = parse and COPY
  overlapped, index = the two index builds, attach = ATTACH PARTITION), and the parser process's split
  (parse, encode, waiting);
* peak RSS of the service process (VmHWM and 20 Hz samples), of its parser process, and of both together;
* CPU seconds of the service, its parser process, the Postgres backend doing the COPY and this client, and the
  rest of the machine's busy CPU (Postgres' helpers and anything else running: large means a shared run);
* the load average before and after (this VM is shared: other work inflates every time).

Results go to bench/results/ingest.json (git-ignored); the CSV is cached in bench/results/ingest-data/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiohttp
import asyncpg
import psutil

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

import datagen  # noqa: E402 - sibling module

from files.testing import FilesProcess, ProjectsStub, files_process  # noqa: E402
from platform_common.testing import create_topics, delete_topics  # noqa: E402

RESULTS = REPO / "bench" / "results"
MIB = 1024 * 1024


def stack_env() -> dict[str, str]:
    values = {}
    for line in (REPO / ".local" / "stack.env").read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            values[key] = value
    return values


def high_water_mark(pid: int) -> int:
    """Peak resident set size (VmHWM) of a live process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass
class Sampler:
    """Samples RSS of the service and its children, and CPU of them and of their Postgres backends."""

    pid: int
    pg_port: int
    interval_s: float = 0.05
    peak_main: int = 0
    peak_children: int = 0
    peak_total: int = 0
    backend_first: dict[int, float] = field(default_factory=dict)  # CPU seconds when first seen
    backend_last: dict[int, float] = field(default_factory=dict)
    backends: dict[int, psutil.Process] = field(default_factory=dict)
    discover_every_s: float = 1.0
    started_at: float = field(default_factory=time.time)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        main = psutil.Process(self.pid)
        discovered = 0.0
        while not self._stop.is_set():
            try:
                rss_main = main.memory_info().rss
                children = main.children(recursive=True)
                rss_children = sum(_rss(child) for child in children)
                # Finding backends walks every process's sockets: once a second, or the sampler itself becomes
                # a visible share of a 2-core machine (it cost ~6 CPU-s per run when done at 20 Hz).
                if time.monotonic() - discovered >= self.discover_every_s:
                    self._discover_backends(main)
                    discovered = time.monotonic()
                self._sample_backends()
            except psutil.NoSuchProcess:
                return
            self.peak_main = max(self.peak_main, rss_main)
            self.peak_children = max(self.peak_children, rss_children)
            self.peak_total = max(self.peak_total, rss_main + rss_children)
            time.sleep(self.interval_s)

    @property
    def backend_cpu_s(self) -> float:
        """CPU the service's Postgres backends spent during the run (a backend connected before the run and first
        seen mid-run counts from then, so this is a lower bound)."""
        return sum(self.backend_last[pid] - self.backend_first[pid] for pid in self.backend_last)

    def _discover_backends(self, main: psutil.Process) -> None:
        ports = {c.laddr.port for c in main.net_connections(kind="tcp") if c.raddr and c.raddr.port == self.pg_port}
        for connection in psutil.net_connections(kind="tcp"):
            if (connection.pid and connection.laddr.port == self.pg_port and connection.raddr
                    and connection.raddr.port in ports and connection.pid not in self.backends):
                backend = self.backends[connection.pid] = psutil.Process(connection.pid)
                if backend.create_time() >= self.started_at:
                    self.backend_first[connection.pid] = 0.0  # connected during the run: all its CPU counts

    def _sample_backends(self) -> None:
        for pid, backend in list(self.backends.items()):
            try:
                times = backend.cpu_times()
            except psutil.NoSuchProcess:
                del self.backends[pid]
                continue
            self.backend_first.setdefault(pid, times.user + times.system)
            self.backend_last[pid] = times.user + times.system


def _rss(proc: psutil.Process) -> int:
    try:
        return int(proc.memory_info().rss)
    except psutil.NoSuchProcess:
        return 0


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle since boot (iowait counts as idle)."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


async def one_run(service: FilesProcess, projects: ProjectsStub, project: uuid.UUID, path: Path, rows: int,
                  label: str, pg_port: int) -> dict[str, Any]:
    headers = service.headers()
    timeout = aiohttp.ClientTimeout(total=900)
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as http:
        source_id = projects.add_data_source(project, label)  # a fresh source: the same bytes again are new
        async with http.put(service.url(f"/v1/projects/{project}/data-sources/{source_id}/mapping"),
                            json={"mapping": datagen.MAPPING}) as response:
            assert response.status == 200, await response.text()
        main = psutil.Process(service.pid)
        parser = main.children(recursive=True)
        cpu_before = cpu_seconds(main), sum(cpu_seconds(p) for p in parser)
        client, machine_before = psutil.Process(), machine_busy_seconds()
        client_before = cpu_seconds(client)
        sampler = Sampler(service.pid, pg_port)
        sampler.start()
        load_before = os.getloadavg()
        started = time.perf_counter()
        with path.open("rb") as handle:
            body = aiohttp.FormData()
            body.add_field("file", handle, filename=path.name, content_type="text/csv")
            async with http.post(service.url(f"/v1/projects/{project}/data-sources/{source_id}/files"),
                                 data=body) as response:
                file = await response.json()
                assert response.status == 201, file
        uploaded = time.perf_counter()
        while file["status"] not in ("committed", "rejected", "failed"):
            await asyncio.sleep(0.05)
            async with http.get(service.url(f"/v1/projects/{project}/files/{file['id']}")) as response:
                file = await response.json()
        finished = time.perf_counter()
        sampler.stop()
        load_after = os.getloadavg()
        machine_busy, client_cpu = machine_busy_seconds() - machine_before, cpu_seconds(client) - client_before
        assert file["status"] == "committed", file
        assert file["row_count"] == rows, file
        async with http.get(service.url(f"/v1/projects/{project}/datasets/{file['dataset_id']}")) as response:
            dataset = await response.json()
    children_hwm = sum(high_water_mark(p.pid) for p in main.children(recursive=True))
    size = await asyncio.to_thread(lambda: path.stat().st_size)
    elapsed = finished - started
    return {
        "label": label, "rows": rows, "bytes": size, "seconds": round(elapsed, 3),
        "rows_per_s": round(rows / elapsed), "upload_s": round(uploaded - started, 3),
        "service_stages_s": dataset["timings"], "service_duration_s": dataset["duration_ms"] / 1000,
        "peak_rss_mb": {
            "service_vmhwm": round(high_water_mark(service.pid) / MIB, 1),
            "service_sampled": round(sampler.peak_main / MIB, 1),
            "parser_vmhwm": round(children_hwm / MIB, 1),
            "parser_sampled": round(sampler.peak_children / MIB, 1),
            "total_sampled": round(sampler.peak_total / MIB, 1),
        },
        "cpu_s": cpu_split(service=cpu_seconds(main) - cpu_before[0],
                           parser=sum(cpu_seconds(p) for p in main.children(recursive=True)) - cpu_before[1],
                           postgres_backends=sampler.backend_cpu_s, client=client_cpu, machine_busy=machine_busy),
        "load_average": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in load_after]},
    }


def cpu_split(*, service: float, parser: float, postgres_backends: float, client: float,
              machine_busy: float) -> dict[str, float]:
    """Where the machine's CPU went during a run. `rest` is everything not attributed: Postgres' parallel index
    workers, WAL writer and checkpointer, Kafka, and any other session's work; a large `rest` means the run
    shared the machine and its wall time is pessimistic."""
    attributed = service + parser + postgres_backends + client
    return {"service": round(service, 2), "parser": round(parser, 2), "postgres_backends": round(postgres_backends, 2),
            "bench_client": round(client, 2), "machine_busy": round(machine_busy, 2),
            "rest": round(machine_busy - attributed, 2)}


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    stack = stack_env()
    data_dir = RESULTS / "ingest-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"statement-{args.rows}-s42.csv"
    if not path.exists():
        print(f"generating {path} ...", flush=True)
        datagen.write_csv(path, args.rows)
    workdir = RESULTS / "ingest-runs" / time.strftime("%Y%m%d-%H%M%S")
    workdir.mkdir(parents=True)
    projects = ProjectsStub()
    projects.start()
    project = projects.grant(uuid.uuid4())
    unique = uuid.uuid4().hex[:10]
    service = files_process(stack, workdir, unique=unique, projects_url=projects.url,
                            extra_env={"FILES_INGEST__WORKERS": str(args.workers), "FILES_LOG_LEVEL": "INFO"})
    await create_topics(stack["RECON_KAFKA_BOOTSTRAP"], *service.topics, partitions=2)
    pg_port = urlparse(stack["RECON_PG_DSN"]).port or 5432
    results = []
    try:
        await asyncio.to_thread(service.start)
        for run in range(args.repeat):
            result = await one_run(service, projects, project, path, args.rows, f"run-{run + 1}", pg_port)
            print(json.dumps(result), flush=True)
            results.append(result)
    finally:
        service.stop()
        projects.stop()
        await delete_topics(stack["RECON_KAFKA_BOOTSTRAP"], *service.topics)
        conn = await asyncpg.connect(stack["RECON_PG_DSN"])
        await conn.execute(f"DROP SCHEMA IF EXISTS {service.schema} CASCADE")
        await conn.close()
        shutil.rmtree(service.root, ignore_errors=True)
    return results


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| run | rows | MB | end to end s | rows/s | upload s | copy s | index s | attach s | parse s (parser) | "
             "peak RSS service MB | peak RSS parser MB | CPU s service / parser / postgres | CPU s client / rest | "
             "load avg |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        stages, rss, cpu = r["service_stages_s"], r["peak_rss_mb"], r["cpu_s"]
        lines.append(
            f"| {r['label']} | {r['rows']:,} | {r['bytes'] / 1e6:.0f} | {r['seconds']:.1f} | {r['rows_per_s']:,} | "
            f"{r['upload_s']:.1f} | {stages.get('copy', 0):.1f} | {stages.get('index', 0):.1f} | "
            f"{stages.get('attach', 0):.1f} | {stages.get('parser', {}).get('parse_s', 0):.1f} | "
            f"{rss['service_vmhwm']:.0f} | {rss['parser_vmhwm']:.0f} | {cpu['service']:.1f} / {cpu['parser']:.1f} / "
            f"{cpu['postgres_backends']:.1f} | {cpu['bench_client']:.1f} / {cpu['rest']:.1f} | "
            f"{r['load_average']['before'][0]:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    RESULTS.mkdir(exist_ok=True)
    record = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "platform": platform.platform()}, "args": vars(args), "runs": results}
    (RESULTS / "ingest.json").write_text(json.dumps(record, indent=2))
    print(table(results))


if __name__ == "__main__":
    main()
