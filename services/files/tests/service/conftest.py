"""The files service as a real process per test module, on the real stack, with private topics, schema and
object root. A module may set FILES_ENV (extra environment) before the fixture starts the process."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from files.testing import FilesProcess, ProjectsStub, files_process, moto_server_command, start_moto_server
from platform_common.testing import create_topics, delete_topics

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))


@pytest.fixture(scope="module")
def projects() -> Iterator[ProjectsStub]:
    server = ProjectsStub()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("files-service")


@pytest.fixture(scope="module")
def service(request: pytest.FixtureRequest, stack: dict[str, str], workdir: Path,
            projects: ProjectsStub) -> Iterator[FilesProcess]:
    unique = uuid.uuid4().hex[:10]
    # Values may be callables taking the request, to use other fixtures (an S3 endpoint, the work directory).
    extra = getattr(request.module, "FILES_ENV", {})
    env = {key: value(request) if callable(value) else value for key, value in extra.items()}
    process = files_process(stack, workdir, unique=unique, projects_url=projects.url, extra_env=env)
    bootstrap = stack["RECON_KAFKA_BOOTSTRAP"]
    asyncio.run(create_topics(bootstrap, *process.topics, partitions=2))
    try:
        process.start()
        yield process
    finally:
        process.stop()
        asyncio.run(delete_topics(bootstrap, *process.topics))
        asyncio.run(_drop_schema(stack["RECON_PG_DSN"], process.schema))


async def _drop_schema(dsn: str, schema: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto_server process. Missing is a failure, not a skip: the S3 backend is tested against a real S3 API."""
    command = moto_server_command()
    if command is None:
        pytest.fail("moto_server is not installed: `pip install 'moto[server]'` (the S3 emulator these tests need)")
    process, endpoint = start_moto_server(command, tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def project(projects: ProjectsStub) -> uuid.UUID:
    """A project the test user owns."""
    return projects.grant(uuid.uuid4(), "owner")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=180)) as session:
        yield session


@pytest.fixture
async def db(pg_dsn: str, service: FilesProcess) -> AsyncIterator[asyncpg.Connection]:
    """A connection into the service's schema, for assertions the API does not expose."""
    conn = await asyncpg.connect(pg_dsn, server_settings={"search_path": f"{service.schema},public"})
    try:
        yield conn
    finally:
        await conn.close()
