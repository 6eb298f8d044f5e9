"""Typed application keys shared across services."""

from __future__ import annotations

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from platform_common.kafka.consumer import ConsumerRunner
from platform_common.kafka.producer import KafkaEventPublisher

PG_POOL = web.AppKey("pg_pool", asyncpg.Pool)
REDIS = web.AppKey("redis", aioredis.Redis)
PUBLISHER = web.AppKey("publisher", KafkaEventPublisher)
CONSUMER = web.AppKey("consumer", ConsumerRunner)
