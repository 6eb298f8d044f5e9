"""Test harness: the gateway and the projects service in this process (aiohttp TestServer over their
create_app), on the real Postgres, Redis and Kafka, each in a throwaway schema, key prefix and consumer group."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer
from pydantic import AnyHttpUrl

from gateway.app import create_app as create_gateway
from gateway.config import GatewaySettings
from platform_common.auth import ServiceAuthSettings
from platform_common.settings import KafkaSettings, PostgresSettings, RedisSettings
from projects.app import create_app as create_projects
from projects.config import ProjectsSettings

PASSWORD = "correct horse battery staple"
LIGHT_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 8192, "argon2_parallelism": 1}


@dataclass
class Account:
    user_id: str
    email: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@dataclass
class Platform:
    gateway: TestClient
    projects_url: str
    settings: GatewaySettings
    jwt_secret: str
    internal_key: str
    suffix: str
    accounts: list[Account] = field(default_factory=list)

    async def request(self, method: str, path: str, *, account: Account | None = None,
                      headers: dict[str, str] | None = None, **kwargs: Any) -> tuple[int, Any, Any]:
        """(status, body, headers); body is parsed JSON when there is any."""
        merged = {**(account.headers if account else {}), **(headers or {})}
        async with self.gateway.request(method, path, headers=merged, **kwargs) as response:
            raw = await response.read()
            body = None
            if raw and "json" in response.headers.get("Content-Type", ""):
                body = await response.json(content_type=None)
            return response.status, body, response.headers

    async def signup(self, name: str = "user") -> Account:
        email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
        status, user, _ = await self.request("POST", "/api/v2/auth/register",
                                             json={"email": email, "password": PASSWORD, "display_name": name})
        assert status == 201, user
        status, tokens, _ = await self.request("POST", "/api/v2/auth/login",
                                               json={"email": email, "password": PASSWORD})
        assert status == 200, tokens
        account = Account(user["id"], email, tokens["access_token"], tokens["refresh_token"])
        self.accounts.append(account)
        return account

    async def project_with_team(self, owner: Account, editor: Account | None = None, viewer: Account | None = None,
                                name: str = "team project") -> str:
        status, project, _ = await self.request("POST", "/api/v2/projects", account=owner, json={"name": name})
        assert status == 201, project
        for member, role in ((editor, "editor"), (viewer, "viewer")):
            if member is not None:
                status, body, _ = await self.request("POST", f"/api/v2/projects/{project['id']}/members",
                                                     account=owner, json={"email": member.email, "role": role})
                assert status == 201, body
        return str(project["id"])


def gateway_settings(stack: dict[str, str], suffix: str, *, projects_url: str, jwt_secret: str, internal_key: str,
                     **rate_limits: Any) -> GatewaySettings:
    dead = "http://127.0.0.1:9"  # files and results are not running in-process: calls to them fail fast (503)
    return GatewaySettings(
        environment="test",
        postgres=PostgresSettings(dsn=stack["RECON_PG_DSN"], schema_name=f"identity_t{suffix}"),
        redis=RedisSettings(url=stack["RECON_REDIS_URL"]),
        auth={"jwt_secret": jwt_secret, "internal_key": internal_key, **LIGHT_ARGON2},
        rate_limits={"key_prefix": f"recon:rl:t{suffix}", "auth_per_ip_per_minute": 100_000,
                     "login_per_account_per_minute": 100_000, "user_per_minute": 100_000, **rate_limits},
        cors={"allowed_origins": ["https://app.example.com"]},
        upstreams={"projects_url": projects_url, "files_url": dead, "results_url": dead, "timeout_s": 5},
    )


def projects_settings(stack: dict[str, str], suffix: str, *, internal_key: str, **cache: Any) -> ProjectsSettings:
    return ProjectsSettings(
        environment="test",
        kafka=KafkaSettings(bootstrap_servers=stack["RECON_KAFKA_BOOTSTRAP"]),
        postgres=PostgresSettings(dsn=stack["RECON_PG_DSN"], schema_name=f"projects_t{suffix}"),
        redis=RedisSettings(url=stack["RECON_REDIS_URL"]),
        auth=ServiceAuthSettings(internal_key=internal_key),
        cache=cache,
        consumer_group=f"projects-t{suffix}",
    )


async def drop_everything(stack: dict[str, str], suffix: str) -> None:
    conn = await asyncpg.connect(stack["RECON_PG_DSN"])
    try:
        for schema in (f"identity_t{suffix}", f"projects_t{suffix}"):
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()
    client = aioredis.from_url(stack["RECON_REDIS_URL"])
    try:
        for pattern in (f"recon:rl:t{suffix}*", f"recon:cache:projects:projects_t{suffix}*"):
            keys = [key async for key in client.scan_iter(match=pattern)]
            if keys:
                await client.delete(*keys)
    finally:
        await client.aclose()


async def start_platform(stack: dict[str, str], **rate_limits: Any) -> tuple[Platform, TestServer]:
    """A fresh projects + gateway pair; the caller closes both (see `stop_platform`)."""
    suffix = uuid.uuid4().hex[:8]
    jwt_secret, internal_key = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    projects = TestServer(create_projects(projects_settings(stack, suffix, internal_key=internal_key)))
    await projects.start_server()
    projects_url = str(projects.make_url("")).rstrip("/")
    settings = gateway_settings(stack, suffix, projects_url=projects_url, jwt_secret=jwt_secret,
                                internal_key=internal_key, **rate_limits)
    gateway = TestClient(TestServer(create_gateway(settings)))
    await gateway.start_server()
    return Platform(gateway, projects_url, settings, jwt_secret, internal_key, suffix), projects


async def stop_platform(stack: dict[str, str], platform: Platform, projects: TestServer) -> None:
    await platform.gateway.close()
    await projects.close()
    await drop_everything(stack, platform.suffix)


async def start_gateway_beside(stack: dict[str, str], base: Platform, *, files_url: str | None = None,
                               upload_max_bytes: int | None = None, **rate_limits: Any) -> Platform:
    """Another gateway in front of `base`'s projects service, with its own schema, limits and key prefix (and,
    when given, its own files upstream and upload limit)."""
    suffix = uuid.uuid4().hex[:8]
    settings = gateway_settings(stack, suffix, projects_url=base.projects_url, jwt_secret=base.jwt_secret,
                                internal_key=base.internal_key, **rate_limits)
    if files_url is not None:
        settings = settings.model_copy(update={"upstreams": settings.upstreams.model_copy(
            update={"files_url": AnyHttpUrl(files_url)})})
    if upload_max_bytes is not None:
        settings = settings.model_copy(update={"api": settings.api.model_copy(
            update={"upload_max_bytes": upload_max_bytes})})
    gateway = TestClient(TestServer(create_gateway(settings)))
    await gateway.start_server()
    return Platform(gateway, base.projects_url, settings, base.jwt_secret, base.internal_key, suffix)


async def stop_gateway(stack: dict[str, str], platform: Platform) -> None:
    await platform.gateway.close()
    await drop_everything(stack, platform.suffix)
