"""Liveness and readiness checks, registered by the resources that own them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

ReadinessCheck = Callable[[], Awaitable[None]]
LivenessCheck = Callable[[], bool]


@dataclass
class HealthRegistry:
    """Readiness = dependencies answer; liveness = our own loops are turning. Never 'partitions assigned'."""

    readiness: dict[str, ReadinessCheck] = field(default_factory=dict)
    liveness: dict[str, LivenessCheck] = field(default_factory=dict)
    timeout_s: float = 2.0

    def add_readiness(self, name: str, check: ReadinessCheck) -> None:
        self.readiness[name] = check

    def add_liveness(self, name: str, check: LivenessCheck) -> None:
        self.liveness[name] = check

    def remove(self, name: str) -> None:
        self.readiness.pop(name, None)
        self.liveness.pop(name, None)

    async def check_ready(self) -> dict[str, str]:
        """Run every readiness check concurrently; map name -> "ok" or the failure."""
        names = list(self.readiness)

        async def run(name: str) -> str:
            try:
                async with asyncio.timeout(self.timeout_s):
                    await self.readiness[name]()
            except Exception as error:
                return f"failed: {type(error).__name__}"
            return "ok"

        results = await asyncio.gather(*(run(name) for name in names))
        return dict(zip(names, results, strict=True))

    def check_alive(self) -> dict[str, str]:
        return {name: "ok" if check() else "stalled" for name, check in self.liveness.items()}


HEALTH_KEY = web.AppKey("health", HealthRegistry)


def health_of(app: web.Application) -> HealthRegistry:
    """The app's registry, created on first use."""
    if HEALTH_KEY not in app:
        app[HEALTH_KEY] = HealthRegistry()
    return app[HEALTH_KEY]
