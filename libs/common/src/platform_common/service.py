"""Process entry point shared by every service: `python -m <service> [serve|migrate]`."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

from platform_common.http import serve
from platform_common.migrations import migrate
from platform_common.settings import (
    ConfigurationError,
    PostgresSettings,
    ServiceSettings,
    exit_with,
    load_settings,
    with_schema,
)
from platform_common.telemetry import setup_logging, setup_tracing

S = TypeVar("S", bound=ServiceSettings)


def run_service(*, service: str, settings_cls: type[S], create_app: Callable[[S], web.Application],
                schema: str | None = None, migration_packages: tuple[str, ...] = (),
                argv: list[str] | None = None) -> None:
    """Parse the command, load settings (fail fast), then serve until SIGTERM or apply migrations."""
    parser = argparse.ArgumentParser(prog=f"python -m {service}")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    args = parser.parse_args(argv)
    try:
        settings = load_settings(settings_cls)
    except ConfigurationError as error:
        exit_with(str(error))
    setup_logging(service, settings.log_level)
    if args.command == "migrate":
        pg = getattr(settings, "postgres", None)
        if schema is None or not isinstance(pg, PostgresSettings):
            exit_with(f"{service} owns no database schema to migrate", code=0)
        pg = with_schema(pg, schema)
        target = pg.schema_name or schema
        applied = asyncio.run(migrate(pg.dsn.get_secret_value(), target, *migration_packages))
        print(f"{service}: {len(applied)} migration(s) applied to schema {target}")
        return
    setup_tracing(service)
    try:
        asyncio.run(serve(create_app(settings), host=settings.http.host, port=settings.http.port,
                          shutdown_timeout=settings.shutdown_timeout_s))
    except ConfigurationError as error:
        exit_with(str(error), code=1)
