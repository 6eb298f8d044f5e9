"""Settings of the projects service (env prefix PROJECTS_)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from platform_common.settings import HttpSettings, KafkaSettings, PostgresSettings, ServiceSettings

SERVICE = "projects"
SCHEMA = "projects"


class ProjectsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PROJECTS_", env_nested_delimiter="__", extra="ignore", frozen=True)

    http: HttpSettings = HttpSettings(port=8081)
    kafka: KafkaSettings
    postgres: PostgresSettings
