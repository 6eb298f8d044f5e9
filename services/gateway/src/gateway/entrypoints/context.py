"""Typed keys for what the gateway's routes share."""

from __future__ import annotations

from aiohttp import web

from gateway.adapters.redis_guards import RedisGuards
from gateway.api.routes import Operation
from gateway.config import GatewaySettings
from gateway.service_layer.accounts import AccountService
from platform_common.auth import Identity

SETTINGS = web.AppKey("gateway_settings", GatewaySettings)
ACCOUNTS = web.AppKey("accounts", AccountService)
GUARDS = web.AppKey("guards", RedisGuards)
OPENAPI_DOCUMENT = web.AppKey("openapi_document", bytes)

OPERATION = web.RequestKey("operation", Operation)
CALLER = web.RequestKey("caller", Identity)
