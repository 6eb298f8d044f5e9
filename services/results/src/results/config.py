"""Settings of the results service (env prefix RESULTS_)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from platform_common.auth import ServiceAuthSettings
from platform_common.settings import HttpSettings, KafkaSettings, PostgresSettings, ServiceSettings

SERVICE = "results"
SCHEMA = "results"


class ResultsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RESULTS_", env_nested_delimiter="__", extra="ignore", frozen=True)

    http: HttpSettings = HttpSettings(port=8084)
    kafka: KafkaSettings
    postgres: PostgresSettings
    # The gateway's identity token key, and where to ask for a caller's project role.
    auth: ServiceAuthSettings = ServiceAuthSettings()
    # Also the consumer name of the inbox; a test runs its own group so it never takes the real one's offsets.
    consumer_group: str = "results"
