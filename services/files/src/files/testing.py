"""Running the files service as a real process for service tests and the ingest benchmark.

The service gets its own Postgres schema, its own topics and consumer group and its own object root, so it
never shares state with other instances on the same stack. Callers authenticate as the gateway would, with
an internal identity token signed by the key the process was given; project roles and data sources come from
ProjectsStub, a small HTTP server answering the projects service's endpoints the files service calls (the
real projects service is exercised by the end-to-end suite).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from platform_common.auth import Identity, InternalTokens


class ProjectsStub:
    """The projects service's endpoints the files service calls, in a thread (so synchronous fixtures can own
    it): the caller's role in a project, and the project's data sources (list, get, create by name).
    A project the caller has no role in answers 404, like projects does for non-members."""

    def __init__(self) -> None:
        self.roles: dict[uuid.UUID, str] = {}
        self.data_sources: dict[uuid.UUID, dict[uuid.UUID, str]] = {}  # project -> id -> name
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="projects-stub", daemon=True)

    def grant(self, project_id: uuid.UUID, role: str = "owner") -> uuid.UUID:
        self.roles[project_id] = role
        self.data_sources.setdefault(project_id, {})
        return project_id

    def add_data_source(self, project_id: uuid.UUID, name: str) -> uuid.UUID:
        data_source_id = uuid.uuid4()
        self.data_sources.setdefault(project_id, {})[data_source_id] = name
        return data_source_id

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, method: str, path: str, authorised: bool, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not authorised:
            return 401, {"code": "unauthenticated"}
        parts = path.strip("/").split("/")
        try:
            project_id = uuid.UUID(parts[2]) if len(parts) >= 3 and parts[:2] == ["v1", "projects"] else None
        except ValueError:
            project_id = None
        role = self.roles.get(project_id) if project_id is not None else None
        if project_id is None or role is None:
            return 404, {"code": "project_not_found"}
        sources = self.data_sources.setdefault(project_id, {})
        tail = parts[3:]
        if method == "GET" and tail == ["access"]:
            return 200, {"role": role}
        if method == "GET" and tail == ["data-sources"]:
            return 200, {"items": [self._view(project_id, i, n) for i, n in sources.items()]}
        if method == "POST" and tail == ["data-sources"]:
            if role == "viewer":
                return 403, {"code": "project_forbidden"}
            if body.get("name") in sources.values():
                return 409, {"code": "data_source_exists"}
            return 201, self._view(project_id, self.add_data_source(project_id, str(body["name"])), body["name"])
        if method == "GET" and len(tail) == 2 and tail[0] == "data-sources":
            found = next(((i, n) for i, n in sources.items() if str(i) == tail[1]), None)
            if found is None:
                return 404, {"code": "data_source_not_found"}
            return 200, self._view(project_id, *found)
        return 404, {"code": "not_found"}

    @staticmethod
    def _view(project_id: uuid.UUID, data_source_id: uuid.UUID, name: str) -> dict[str, Any]:
        return {"id": str(data_source_id), "project_id": str(project_id), "name": name, "description": "",
                "created_at": "2026-01-01T00:00:00+00:00"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _respond(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else {}
                authorised = self.headers.get("Authorization", "").startswith("Bearer ")
                status, answer = stub.answer(method, self.path, authorised, body)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._respond("GET")

            def do_POST(self) -> None:
                self._respond("POST")

            def log_message(self, *_: Any) -> None:
                pass

        return Handler


@dataclass
class FilesProcess:
    """One `python -m files` process and what a test needs to talk to it."""

    port: int
    schema: str
    topics: tuple[str, str]  # uploaded, ingested
    root: Path
    log: Path
    env: dict[str, str]
    key: str = field(repr=False)
    process: subprocess.Popen[bytes] | None = None
    user_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def headers(self, user_id: uuid.UUID | None = None) -> dict[str, str]:
        identity = Identity(user_id=user_id or self.user_id, email="tester@example.com")
        return {"Authorization": f"Bearer {InternalTokens(self.key.encode()).mint(identity)}"}

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout_s: float = 90.0) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "files"], env=self.env,
                                        stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"files exited during start:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url("/readyz"), timeout=2) as response:  # noqa: S310 - local
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"files not ready within {timeout_s} s:\n{self.log_tail()}")

    def stop(self, timeout_s: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def files_process(stack: dict[str, str], workdir: Path, *, unique: str, projects_url: str,
                  extra_env: dict[str, str] | None = None) -> FilesProcess:
    """A not-yet-started service with a private schema (f_<unique>), topics and object root under `workdir`."""
    key = secrets.token_urlsafe(48)
    port = free_port()
    schema = f"f_{unique}"
    topics = (f"files-{unique}.uploaded", f"files-{unique}.ingested")
    root = workdir / "objects"
    env: dict[str, Any] = {
        **os.environ,
        "FILES_ENVIRONMENT": "test",
        "FILES_HTTP__PORT": str(port),
        "FILES_KAFKA__BOOTSTRAP_SERVERS": stack["RECON_KAFKA_BOOTSTRAP"],
        "FILES_KAFKA__SESSION_TIMEOUT_MS": "6000",
        "FILES_KAFKA__HEARTBEAT_INTERVAL_MS": "1000",
        "FILES_POSTGRES__DSN": stack["RECON_PG_DSN"],
        "FILES_POSTGRES__SCHEMA_NAME": schema,
        "FILES_STORAGE__ROOT": str(root),
        "FILES_TOPICS__UPLOADED": topics[0],
        "FILES_TOPICS__INGESTED": topics[1],
        "FILES_TOPICS__CONSUMER_GROUP": f"files-{unique}",
        "FILES_AUTH__INTERNAL_KEY": key,
        "FILES_AUTH__PROJECTS_URL": projects_url,
        "FILES_SHUTDOWN_TIMEOUT_S": "10",
        **(extra_env or {}),
    }
    return FilesProcess(port=port, schema=schema, topics=topics, root=root, log=workdir / "files.log", env=env,
                        key=key)


def moto_server_command() -> str | None:
    """moto's S3 server: from the virtualenv when installed there, else from PATH."""
    beside_python = Path(sys.executable).with_name("moto_server")
    return str(beside_python) if beside_python.exists() else shutil.which("moto_server")


def start_moto_server(command: str, log: Path, timeout_s: float = 30.0) -> tuple[subprocess.Popen[bytes], str]:
    """A moto_server process speaking the S3 API on a free port, and its endpoint URL."""
    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    process = subprocess.Popen([command, "-H", "127.0.0.1", "-p", str(port)],  # noqa: S603 - our emulator
                               env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(endpoint, timeout=1):
                return process, endpoint
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"moto_server did not start:\n{log.read_text(errors='replace')}") from None
            time.sleep(0.2)
