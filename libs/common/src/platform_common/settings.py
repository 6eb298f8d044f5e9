"""Typed settings shared by every service: one object per service, read once at start."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Any, NoReturn, TypeVar

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEV = "dev"
    TEST = "test"
    PROD = "prod"


class KafkaSettings(BaseModel):
    bootstrap_servers: str
    client_id: str | None = None
    request_timeout_s: float = 30.0
    publish_timeout_s: float = 15.0
    # Short enough that a killed consumer's partitions move within seconds, long enough for a GC pause.
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 2_000
    max_poll_interval_ms: int = 300_000
    # One record's handling may take longer than max_poll_interval_ms (the runner keeps polling for it);
    # past this the consumer's liveness check fails, so a hung handler gets the process restarted.
    max_handling_s: float = Field(default=1800.0, gt=0)
    max_poll_records: int = 200
    max_attempts: int = Field(default=5, ge=1)
    retry_backoff_base_s: float = 0.2
    retry_backoff_max_s: float = 5.0
    start_timeout_s: float = 30.0


class PostgresSettings(BaseModel):
    dsn: SecretStr
    schema_name: str | None = None
    min_pool_size: int = 1
    max_pool_size: int = 10
    command_timeout_s: float = 30.0
    connect_attempts: int = 5
    connect_backoff_s: float = 1.0


class RedisSettings(BaseModel):
    url: SecretStr
    connect_timeout_s: float = 5.0


class HttpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 1_048_576


class ServiceSettings(BaseSettings):
    """Base for every service's settings; subclasses set `env_prefix` and add their own groups."""

    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore", frozen=True)

    environment: Environment = Environment.PROD
    http: HttpSettings = HttpSettings()
    shutdown_timeout_s: float = 15.0
    log_level: str = "INFO"


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


class ConfigurationError(Exception):
    """Raised when settings are missing or invalid; its message is the one line an operator reads."""


def describe_validation_error(cls: type[BaseSettings], error: ValidationError) -> str:
    """Turn a pydantic error into one line naming each offending environment variable."""
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    delimiter = str(cls.model_config.get("env_nested_delimiter") or "__")
    problems = []
    for item in error.errors():
        path = [str(part) for part in item["loc"]]
        if item["type"] == "missing":
            # A missing group (e.g. `kafka`) is reported by the variables an operator actually sets.
            for leaf in _required_leaves(cls, path):
                problems.append(f"{prefix}{delimiter.join(p.upper() for p in leaf)} is required but not set")
        else:
            problems.append(f"{prefix}{delimiter.join(p.upper() for p in path)} is invalid: {item['msg']}")
    return "configuration error: " + "; ".join(problems)


def _required_leaves(model: type[BaseModel], path: list[str]) -> list[list[str]]:
    """Expand a missing nested group into its required leaf settings."""
    current: type[BaseModel] | None = model
    for part in path:
        field_info = current.model_fields.get(part) if current is not None else None
        annotation = field_info.annotation if field_info is not None else None
        current = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    if current is None:
        return [path]
    leaves = [[*path, name] for name, info in current.model_fields.items() if info.is_required()]
    return leaves or [path]


def load_settings(cls: type[SettingsT], **overrides: Any) -> SettingsT:
    """Build settings from the environment, raising ConfigurationError with a one-line summary."""
    try:
        return cls(**overrides)
    except ValidationError as error:
        raise ConfigurationError(describe_validation_error(cls, error)) from None


def exit_with(message: str, code: int = 2) -> NoReturn:
    """Print one operator-facing line on stderr and exit."""
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(code)


def env_name(cls: type[BaseSettings], *path: str) -> str:
    """The environment variable behind a nested setting, e.g. MATCHER_KAFKA__BOOTSTRAP_SERVERS."""
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    delimiter = str(cls.model_config.get("env_nested_delimiter") or "__")
    return prefix + delimiter.join(part.upper() for part in path)


def with_schema(pg: PostgresSettings, default_schema: str) -> PostgresSettings:
    """The service's Postgres settings with its own schema unless one was configured."""
    return pg if pg.schema_name else pg.model_copy(update={"schema_name": default_schema})
