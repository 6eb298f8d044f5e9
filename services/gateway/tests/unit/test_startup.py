"""Outside dev mode the gateway and the services refuse to start without their signing keys, with one line
naming the variable; dev mode starts with an ephemeral key and says so loudly."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

BASE = {"PATH": os.environ.get("PATH", ""), "PYTHONHASHSEED": "0"}


def run(service: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", service], env={**BASE, **env}, capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.mark.parametrize(("environment", "missing", "present"), [
    ("prod", "GATEWAY_AUTH__JWT_SECRET", {"GATEWAY_AUTH__INTERNAL_KEY": "i" * 32}),
    ("test", "GATEWAY_AUTH__JWT_SECRET", {"GATEWAY_AUTH__INTERNAL_KEY": "i" * 32}),
    ("prod", "GATEWAY_AUTH__INTERNAL_KEY", {"GATEWAY_AUTH__JWT_SECRET": "j" * 32}),
])
def test_the_gateway_names_the_missing_secret(environment: str, missing: str, present: dict[str, str]) -> None:
    result = run("gateway", {"GATEWAY_ENVIRONMENT": environment, "GATEWAY_POSTGRES__DSN": "postgresql://x@127.0.0.1:1/x",
                             "GATEWAY_REDIS__URL": "redis://127.0.0.1:1/0", **present})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [f"configuration error: {missing} is required but not set (only the dev environment may run "
                     f"without it)"]


def test_a_short_secret_is_refused() -> None:
    result = run("gateway", {"GATEWAY_ENVIRONMENT": "prod", "GATEWAY_POSTGRES__DSN": "postgresql://x@127.0.0.1:1/x",
                             "GATEWAY_REDIS__URL": "redis://127.0.0.1:1/0", "GATEWAY_AUTH__JWT_SECRET": "secret",
                             "GATEWAY_AUTH__INTERNAL_KEY": "i" * 32})
    assert result.returncode == 1
    assert result.stderr.strip() == ("configuration error: GATEWAY_AUTH__JWT_SECRET is invalid: it must be at least "
                                     "32 characters long")


def test_a_domain_service_needs_the_internal_key() -> None:
    result = run("projects", {"PROJECTS_ENVIRONMENT": "prod", "PROJECTS_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1",
                              "PROJECTS_POSTGRES__DSN": "postgresql://x@127.0.0.1:1/x",
                              "PROJECTS_REDIS__URL": "redis://127.0.0.1:1/0"})
    assert result.returncode == 1
    assert "PROJECTS_AUTH__INTERNAL_KEY is required but not set" in result.stderr.strip().splitlines()[-1]


def test_dev_mode_starts_with_an_ephemeral_key_and_warns() -> None:
    # Postgres is unreachable on purpose: the process gets past the secrets, warns, then fails to connect.
    result = run("gateway", {"GATEWAY_ENVIRONMENT": "dev", "GATEWAY_POSTGRES__DSN": "postgresql://x@127.0.0.1:1/x",
                             "GATEWAY_POSTGRES__CONNECT_ATTEMPTS": "1", "GATEWAY_REDIS__URL": "redis://127.0.0.1:1/0"})
    output = result.stdout + result.stderr
    assert "EPHEMERAL" in output and "GATEWAY_AUTH__JWT_SECRET" in output and "GATEWAY_AUTH__INTERNAL_KEY" in output
    assert "startup error: Postgres unreachable via GATEWAY_POSTGRES__DSN" in result.stderr
