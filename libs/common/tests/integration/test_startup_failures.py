"""Bad configuration fails at start with one clear line naming the setting; nothing starts half-configured."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_service(service: str, env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(service.upper() + "_")}
    return subprocess.run([sys.executable, "-m", service], env={**clean, **env}, capture_output=True, text=True,
                          timeout=timeout, check=False)


def last_stderr_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, f"no error printed; stdout was:\n{result.stdout}"
    return lines[-1]


def test_missing_required_settings_are_named_in_one_line() -> None:
    result = run_service("projects", {})
    assert result.returncode == 2
    line = last_stderr_line(result)
    assert line.startswith("configuration error:")
    assert "PROJECTS_KAFKA__BOOTSTRAP_SERVERS is required but not set" in line
    assert "PROJECTS_POSTGRES__DSN is required but not set" in line
    assert "Traceback" not in result.stderr


def test_invalid_setting_value_is_named() -> None:
    result = run_service("gateway", {"GATEWAY_REDIS__URL": "redis://127.0.0.1:1/0", "GATEWAY_HTTP__PORT": "eighty"})
    assert result.returncode == 2
    assert "GATEWAY_HTTP__PORT is invalid" in last_stderr_line(result)


KEY = "k" * 32  # services refuse to start without their identity-token key outside dev mode (ADR 0004)


def test_unreachable_kafka_fails_start_naming_the_setting(pg_dsn: str) -> None:
    port = free_port()
    result = run_service("results", {
        "RESULTS_AUTH__INTERNAL_KEY": KEY,
        "RESULTS_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "RESULTS_KAFKA__START_TIMEOUT_S": "10",
        "RESULTS_POSTGRES__DSN": pg_dsn,
        "RESULTS_HTTP__PORT": str(port),
    })
    assert result.returncode == 1
    line = last_stderr_line(result)
    assert line.startswith("startup error: Kafka unreachable at RESULTS_KAFKA__BOOTSTRAP_SERVERS=127.0.0.1:")
    assert "Traceback" not in result.stderr
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the HTTP port must not be left listening"


def test_unreachable_postgres_fails_start_naming_the_setting(kafka_bootstrap: str) -> None:
    result = run_service("projects", {
        "PROJECTS_AUTH__INTERNAL_KEY": KEY,
        "PROJECTS_REDIS__URL": "redis://127.0.0.1:1/0",  # never reached: Postgres is connected first
        "PROJECTS_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "PROJECTS_POSTGRES__DSN": f"postgresql://nobody:nothing@127.0.0.1:{free_port()}/none",
        "PROJECTS_POSTGRES__CONNECT_ATTEMPTS": "2",
        "PROJECTS_POSTGRES__CONNECT_BACKOFF_S": "0.1",
    })
    assert result.returncode == 1
    assert last_stderr_line(result).startswith("startup error: Postgres unreachable via PROJECTS_POSTGRES__DSN")


def test_unreachable_redis_fails_start_naming_the_setting(pg_dsn: str) -> None:
    result = run_service("gateway", {"GATEWAY_REDIS__URL": f"redis://127.0.0.1:{free_port()}/0",
                                     "GATEWAY_POSTGRES__DSN": pg_dsn, "GATEWAY_AUTH__JWT_SECRET": KEY,
                                     "GATEWAY_AUTH__INTERNAL_KEY": KEY})
    assert result.returncode == 1
    assert last_stderr_line(result).startswith("startup error: Redis unreachable via GATEWAY_REDIS__URL")
