"""The whole platform as five processes on their own ports, driven through the gateway."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SERVICES = ("projects", "files", "matcher", "results", "gateway")
BASE_PORT = 18080
PORTS = {"gateway": BASE_PORT, "projects": BASE_PORT + 1, "files": BASE_PORT + 2, "matcher": BASE_PORT + 3,
         "results": BASE_PORT + 4}
# One run's secrets: the gateway signs access tokens with the first and identity tokens for the services
# with the second; the tests mint expired and foreign tokens with them.
JWT_SECRET = secrets.token_urlsafe(32)
INTERNAL_KEY = secrets.token_urlsafe(32)


STOPS_PLATFORM = "stops_platform"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{STOPS_PLATFORM}: ends the shared platform; runs after every other test")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The platform is one per session: a test that stops it must come last, whatever the file names.
    items.sort(key=lambda item: item.get_closest_marker(STOPS_PLATFORM) is not None)


@dataclass
class Platform:
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    jwt_secret: str = JWT_SECRET
    internal_key: str = INTERNAL_KEY

    def url(self, service: str, path: str = "") -> str:
        return f"http://127.0.0.1:{PORTS[service]}{path}"

    def log_tail(self, service: str, lines: int = 30) -> str:
        return "\n".join(self.logs[service].read_text(errors="replace").splitlines()[-lines:])


async def sign_up(gateway_url: str, name: str = "user") -> dict[str, str]:
    """Register and sign in a fresh account through the gateway: its id, email and bearer headers."""
    import aiohttp

    email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
    password = "e2e password that is long enough"
    async with aiohttp.ClientSession(base_url=gateway_url) as http:
        async with http.post("/api/v2/auth/register", json={"email": email, "password": password}) as response:
            assert response.status == 201, await response.text()
            user = await response.json()
        async with http.post("/api/v2/auth/login", json={"email": email, "password": password}) as response:
            assert response.status == 200, await response.text()
            tokens = await response.json()
    return {"id": user["id"], "email": email, "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"]}


def service_env(stack: dict[str, str], service: str, tmp: Path) -> dict[str, str]:
    prefix = service.upper()
    env = {**os.environ, f"{prefix}_ENVIRONMENT": "test", f"{prefix}_HTTP__PORT": str(PORTS[service]),
           f"{prefix}_KAFKA__BOOTSTRAP_SERVERS": stack["RECON_KAFKA_BOOTSTRAP"],
           f"{prefix}_POSTGRES__DSN": stack["RECON_PG_DSN"], f"{prefix}_REDIS__URL": stack["RECON_REDIS_URL"],
           f"{prefix}_SHUTDOWN_TIMEOUT_S": "10"}
    env[f"{prefix}_AUTH__INTERNAL_KEY"] = INTERNAL_KEY
    if service in ("files", "results"):
        env[f"{prefix}_AUTH__PROJECTS_URL"] = f"http://127.0.0.1:{PORTS['projects']}"
    if service == "gateway":
        for upstream in ("projects", "files", "results"):
            env[f"GATEWAY_UPSTREAMS__{upstream.upper()}_URL"] = f"http://127.0.0.1:{PORTS[upstream]}"
        env |= {"GATEWAY_AUTH__JWT_SECRET": JWT_SECRET,
                # Cheaper hashing and generous limits: the suite signs in many users from one address.
                "GATEWAY_AUTH__ARGON2_MEMORY_KIB": "8192", "GATEWAY_AUTH__ARGON2_TIME_COST": "1",
                "GATEWAY_RATE_LIMITS__AUTH_PER_IP_PER_MINUTE": "10000",
                "GATEWAY_RATE_LIMITS__USER_PER_MINUTE": "100000",
                "GATEWAY_RATE_LIMITS__KEY_PREFIX": f"recon:rl:e2e-{uuid.uuid4().hex[:8]}"}
    if service == "files":
        env["FILES_STORAGE__ROOT"] = str(tmp / "objects")
    return env


def wait_ready(platform: Platform, service: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if platform.processes[service].poll() is not None:
            pytest.fail(f"{service} exited during start:\n{platform.log_tail(service)}")
        try:
            with urllib.request.urlopen(platform.url(service, "/readyz"), timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{service} not ready within {timeout_s} s:\n{platform.log_tail(service)}")


@pytest.fixture(scope="session")
def platform(stack: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    tmp = tmp_path_factory.mktemp("platform")
    running = Platform()
    for service in SERVICES:
        log_path = tmp / f"{service}.log"
        running.logs[service] = log_path
        running.processes[service] = subprocess.Popen(
            [sys.executable, "-m", service], env=service_env(stack, service, tmp),
            stdout=log_path.open("wb"), stderr=subprocess.STDOUT,
        )
    try:
        for service in SERVICES:
            wait_ready(running, service)
        yield running
    finally:
        for proc in running.processes.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in running.processes.values():
            try:
                proc.wait(timeout=25)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def new_account(platform: Platform) -> Callable[[str], Awaitable[dict[str, str]]]:
    """`await new_account(name)`: a fresh, signed-in account through the gateway."""

    async def create(name: str = "user") -> dict[str, str]:
        return await sign_up(platform.url("gateway"), name)

    return create
