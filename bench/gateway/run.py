"""Authenticated, cached project-list reads through the gateway at a fixed concurrency.

Starts the gateway and the projects service as processes (`python -m gateway`, `python -m projects`) on the
local stack, in throwaway schemas, signs users in, creates projects, warms the cache, then keeps C requests
in flight for D seconds: `GET /api/v2/projects?limit=20` with a bearer token. Every request takes the full
path: JWT check, session-revocation and per-user rate-limit check in Redis, a signed internal identity token,
the hop to projects, its token check and the two-level cache. Prints p50/p95/p99 and throughput; writes
bench/results/gateway.json.

    uv run python bench/gateway/run.py                     # concurrency 8, 20 s, 4 users
    uv run python bench/gateway/run.py --concurrency 16 --duration 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import aiohttp
import asyncpg
import psutil

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results" / "gateway.json"
GATEWAY_PORT, PROJECTS_PORT = 18180, 18181


def stack_env() -> dict[str, str]:
    values = {}
    for line in (REPO / ".local" / "stack.env").read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            values[key] = value
    return values


def service_env(stack: dict[str, str], run: str, internal_key: str, jwt_secret: str) -> dict[str, dict[str, str]]:
    common = {**os.environ, "PYTHONHASHSEED": "0"}
    return {
        "projects": {**common, "PROJECTS_ENVIRONMENT": "test", "PROJECTS_HTTP__PORT": str(PROJECTS_PORT),
                     "PROJECTS_KAFKA__BOOTSTRAP_SERVERS": stack["RECON_KAFKA_BOOTSTRAP"],
                     "PROJECTS_POSTGRES__DSN": stack["RECON_PG_DSN"],
                     "PROJECTS_POSTGRES__SCHEMA_NAME": f"projects_bench{run}",
                     "PROJECTS_REDIS__URL": stack["RECON_REDIS_URL"], "PROJECTS_AUTH__INTERNAL_KEY": internal_key,
                     "PROJECTS_CONSUMER_GROUP": f"projects-bench{run}", "PROJECTS_LOG_LEVEL": "WARNING"},
        "gateway": {**common, "GATEWAY_ENVIRONMENT": "test", "GATEWAY_HTTP__PORT": str(GATEWAY_PORT),
                    "GATEWAY_POSTGRES__DSN": stack["RECON_PG_DSN"],
                    "GATEWAY_POSTGRES__SCHEMA_NAME": f"identity_bench{run}",
                    "GATEWAY_REDIS__URL": stack["RECON_REDIS_URL"], "GATEWAY_AUTH__JWT_SECRET": jwt_secret,
                    "GATEWAY_AUTH__INTERNAL_KEY": internal_key,
                    "GATEWAY_UPSTREAMS__PROJECTS_URL": f"http://127.0.0.1:{PROJECTS_PORT}",
                    # The limiter runs on every request (its Redis round trip is measured), with room to spare.
                    "GATEWAY_RATE_LIMITS__USER_PER_MINUTE": "100000000",
                    "GATEWAY_RATE_LIMITS__KEY_PREFIX": f"recon:rl:bench{run}", "GATEWAY_LOG_LEVEL": "WARNING"},
    }


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"service on {port} exited during start")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"service on {port} not ready within {timeout_s} s")


async def prepare(base: str, users: int, projects_per_user: int) -> list[str]:
    tokens = []
    async with aiohttp.ClientSession(base_url=base) as http:
        for index in range(users):
            email, password = f"bench-{index}-{uuid.uuid4().hex[:6]}@example.com", "benchmark password 123"
            async with http.post("/api/v2/auth/register", json={"email": email, "password": password}) as response:
                assert response.status == 201, await response.text()
            async with http.post("/api/v2/auth/login", json={"email": email, "password": password}) as response:
                token = (await response.json())["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            for number in range(projects_per_user):
                async with http.post("/api/v2/projects", json={"name": f"bench project {number:02d}"},
                                     headers=headers) as response:
                    assert response.status == 201, await response.text()
            tokens.append(token)
    return tokens


def wait_for_backlog(port: int, timeout_s: float = 180) -> None:
    """A fresh consumer group reads the topics from the start; measure only once that backlog is drained."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            lines = response.read().decode().splitlines()
        lag = [float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith("recon_kafka_consumer_lag_messages{")]
        if lag and sum(lag) == 0:
            return
        time.sleep(1)
    print("warning: the projects consumer still has a backlog; figures include its work", file=sys.stderr)


async def load(base: str, tokens: list[str], concurrency: int, duration_s: float, warmup_s: float
               ) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url=base, connector=connector) as http:
        async def worker(index: int, until: float, record: bool) -> None:
            nonlocal errors
            headers = {"Authorization": f"Bearer {tokens[index % len(tokens)]}"}
            while time.perf_counter() < until:
                started = time.perf_counter()
                async with http.get("/api/v2/projects", params={"limit": "20"}, headers=headers) as response:
                    await response.read()
                    ok = response.status == 200
                if record:
                    latencies.append(time.perf_counter() - started)
                    errors += 0 if ok else 1

        await asyncio.gather(*(worker(i, time.perf_counter() + warmup_s, False) for i in range(concurrency)))
        started = time.perf_counter()
        await asyncio.gather(*(worker(i, started + duration_s, True) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


def percentile(sorted_values: list[float], share: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(share * len(sorted_values)))]


async def drop_schemas(dsn: str, run: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for schema in (f"projects_bench{run}", f"identity_bench{run}"):
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--projects", type=int, default=25, help="projects per user")
    parser.add_argument("--profile", action="store_true", help="run the services under cProfile (/tmp/bench-*.prof)")
    args = parser.parse_args()

    stack, run = stack_env(), uuid.uuid4().hex[:6]
    envs = service_env(stack, run, secrets.token_urlsafe(32), secrets.token_urlsafe(32))
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for service, port in (("projects", PROJECTS_PORT), ("gateway", GATEWAY_PORT)):
            profile = ["-m", "cProfile", "-o", f"/tmp/bench-{service}.prof"] if args.profile else []
            processes[service] = subprocess.Popen([sys.executable, *profile, "-m", service], env=envs[service],
                                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_ready(port, processes[service])
        base = f"http://127.0.0.1:{GATEWAY_PORT}"
        tokens = asyncio.run(prepare(base, args.users, args.projects))
        wait_for_backlog(PROJECTS_PORT)
        watched = {name: psutil.Process(proc.pid) for name, proc in processes.items()} | {"client": psutil.Process()}
        cpu_before = {name: sum(p.cpu_times()[:2]) for name, p in watched.items()}
        latencies, errors, elapsed = asyncio.run(load(base, tokens, args.concurrency, args.duration, args.warmup))
        cpu_used = {name: sum(p.cpu_times()[:2]) - cpu_before[name] for name, p in watched.items()}
    finally:
        for proc in processes.values():
            proc.send_signal(signal.SIGTERM)
        for proc in processes.values():
            proc.wait(timeout=30)
        asyncio.run(drop_schemas(stack["RECON_PG_DSN"], run))

    ordered = sorted(latencies)
    result = {
        "benchmark": "gateway cached project list", "concurrency": args.concurrency, "duration_s": round(elapsed, 2),
        "users": args.users, "projects_per_user": args.projects, "requests": len(ordered), "errors": errors,
        "throughput_rps": round(len(ordered) / elapsed, 1),
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 2), "p95_ms": round(percentile(ordered, 0.95) * 1000, 2),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 2), "max_ms": round(ordered[-1] * 1000, 2),
        # Process CPU per request (warm-up included in the numerator, so slightly pessimistic): a figure that
        # does not depend on how busy the shared machine was.
        "cpu_ms_per_request": {name: round(used * 1000 / max(1, len(ordered)), 3) for name, used in cpu_used.items()},
        "load_average_1m": round(os.getloadavg()[0], 2),
        "target_p95_ms": 25, "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                         "platform": platform.platform()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    history = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    RESULTS.write_text(json.dumps([*history, result], indent=2) + "\n")
    cpu = result["cpu_ms_per_request"]
    print("| concurrency | requests | errors | throughput | p50 | p95 | p99 | max | CPU/request gateway + projects "
          "(+ load client) | load avg |\n|---|---|---|---|---|---|---|---|---|---|\n"
          f"| {args.concurrency} | {len(ordered)} | {errors} | {result['throughput_rps']} req/s | "
          f"{result['p50_ms']} ms | {result['p95_ms']} ms | {result['p99_ms']} ms | {result['max_ms']} ms | "
          f"{cpu['gateway']} + {cpu['projects']} (+ {cpu['client']}) ms | {result['load_average_1m']} |")


if __name__ == "__main__":
    main()
