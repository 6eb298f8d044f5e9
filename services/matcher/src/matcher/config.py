"""Settings of the matcher service (env prefix MATCHER_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from platform_common.settings import HttpSettings, KafkaSettings, PostgresSettings, ServiceSettings

SERVICE = "matcher"
SCHEMA = "matcher"


class MatcherSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MATCHER_", env_nested_delimiter="__", extra="ignore", frozen=True)

    http: HttpSettings = HttpSettings(port=8083)
    kafka: KafkaSettings
    postgres: PostgresSettings
    shards_per_job: int = Field(default=4, ge=1, le=1024)
    max_matches_per_batch: int = Field(default=500, ge=1)
    cpu_workers: int = Field(default=1, ge=1)
    # The files service's records table, read through a read-only role in production.
    records_table: str = Field(default="files.records", pattern=r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
