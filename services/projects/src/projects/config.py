"""Settings of the projects service (env prefix PROJECTS_)."""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from platform_common.auth import ServiceAuthSettings
from platform_common.settings import HttpSettings, KafkaSettings, PostgresSettings, RedisSettings, ServiceSettings

SERVICE = "projects"
SCHEMA = "projects"


class CacheSettings(BaseModel):
    """Lifetimes of cached read models; writes invalidate explicitly, so these only bound the unexpected."""

    project_list_ttl_s: float = Field(default=60.0, gt=0)
    job_status_ttl_s: float = Field(default=30.0, gt=0)
    membership_ttl_s: float = Field(default=120.0, gt=0)
    l1_ttl_s: float = Field(default=10.0, gt=0)
    refresh_ahead: float = Field(default=0.2, ge=0, lt=1)
    jitter: float = Field(default=0.1, ge=0, lt=1)


class ProjectsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PROJECTS_", env_nested_delimiter="__", extra="ignore", frozen=True)

    http: HttpSettings = HttpSettings(port=8081)
    kafka: KafkaSettings
    postgres: PostgresSettings
    redis: RedisSettings
    auth: ServiceAuthSettings = ServiceAuthSettings()
    cache: CacheSettings = CacheSettings()
    consumer_group: str = "projects"
