"""Typed keys for what the projects service's entrypoints share."""

from __future__ import annotations

from aiohttp import web

from platform_common.cache import TwoLevelCache
from projects.service_layer.deps import Deps

CACHE = web.AppKey("projects_cache", TwoLevelCache)
DEPS = web.AppKey("projects_deps", Deps)
