"""Test harness: the projects service in this process (aiohttp TestServer over create_app) on the real
Postgres, Redis and Kafka, called the way the gateway calls it: with a signed internal identity token."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from platform_common.auth import Identity, InternalTokens, ServiceAuthSettings
from platform_common.settings import KafkaSettings, PostgresSettings, RedisSettings
from projects.app import create_app
from projects.config import ProjectsSettings


def person(name: str = "user") -> Identity:
    return Identity(user_id=uuid.uuid4(), email=f"{name}-{uuid.uuid4().hex[:6]}@example.com")


@dataclass
class Replica:
    client: TestClient
    tokens: InternalTokens

    @property
    def app(self) -> web.Application:
        return self.client.server.app

    async def call(self, method: str, path: str, caller: Identity | None, **kwargs: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens.mint(caller)}"} if caller else {}
        async with self.client.request(method, path, headers=headers, **kwargs) as response:
            raw = await response.read()
            return response.status, (await response.json(content_type=None)) if raw else None

    async def create_project(self, owner: Identity, name: str = "project", **extra: Any) -> dict[str, Any]:
        status, body = await self.call("POST", "/v1/projects", owner, json={"name": name, **extra})
        assert status == 201, body
        return dict(body)

    async def add(self, owner: Identity, project_id: str, member: Identity, role: str) -> None:
        status, body = await self.call("POST", f"/v1/projects/{project_id}/members", owner,
                                       json={"user_id": str(member.user_id), "email": member.email, "role": role})
        assert status == 201, body


def settings_for(stack: dict[str, str], suffix: str, internal_key: str, **overrides: Any) -> ProjectsSettings:
    return ProjectsSettings(
        environment="test",
        kafka=KafkaSettings(bootstrap_servers=stack["RECON_KAFKA_BOOTSTRAP"]),
        postgres=PostgresSettings(dsn=stack["RECON_PG_DSN"], schema_name=f"projects_t{suffix}"),
        redis=RedisSettings(url=stack["RECON_REDIS_URL"]),
        auth=ServiceAuthSettings(internal_key=internal_key),
        consumer_group=f"projects-t{suffix}",
        **overrides,
    )


async def start_replica(settings: ProjectsSettings) -> Replica:
    assert settings.auth.internal_key is not None
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    return Replica(client, InternalTokens(settings.auth.internal_key.get_secret_value().encode()))


def new_suffix() -> tuple[str, str]:
    return uuid.uuid4().hex[:8], secrets.token_urlsafe(32)


async def drop(stack: dict[str, str], suffix: str) -> None:
    conn = await asyncpg.connect(stack["RECON_PG_DSN"])
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS projects_t{suffix} CASCADE")
    finally:
        await conn.close()
    client = aioredis.from_url(stack["RECON_REDIS_URL"])
    try:
        keys = [key async for key in client.scan_iter(match=f"recon:cache:projects:projects_t{suffix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
