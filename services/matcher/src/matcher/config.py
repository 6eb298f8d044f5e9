"""Settings of the matcher service (env prefix MATCHER_)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from platform_common.settings import HttpSettings, KafkaSettings, PostgresSettings, ServiceSettings

SERVICE = "matcher"
SCHEMA = "matcher"


class RetentionSettings(BaseModel):
    """How long the bookkeeping of a done job (its plan, shard members, failure, worker losses) is kept.

    A shard redelivered after its job's plan was deleted would find no members, so the period applied is
    raised, when needed, to a day past the broker's retention of the job.started and shard.requested topics
    (asked every round; nothing is deleted while a topic keeps events forever or cannot be asked)."""

    days: int = Field(default=30, ge=1)
    interval_s: float = Field(default=3600, gt=0)  # how often expired rows are looked for

    @property
    def period(self) -> timedelta:
        return timedelta(days=self.days)


class MatcherSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MATCHER_", env_nested_delimiter="__", extra="ignore", frozen=True)

    http: HttpSettings = HttpSettings(port=8083)
    kafka: KafkaSettings
    postgres: PostgresSettings
    shards_per_job: int = Field(default=4, ge=1, le=1024)
    max_matches_per_batch: int = Field(default=500, ge=1)
    cpu_workers: int = Field(default=1, ge=1)
    retention: RetentionSettings = RetentionSettings()
    # The files service's records table, read through a read-only role in production.
    records_table: str = Field(default="files.records", pattern=r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
