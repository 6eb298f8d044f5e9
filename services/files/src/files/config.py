"""Settings of the files service (env prefix FILES_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel
from pydantic_settings import SettingsConfigDict

from platform_common.settings import HttpSettings, KafkaSettings, PostgresSettings, ServiceSettings

SERVICE = "files"
SCHEMA = "files"


class StorageSettings(BaseModel):
    root: Path = Path(".local/objects")
    max_upload_bytes: int = 100 * 1024 * 1024


class FilesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FILES_", env_nested_delimiter="__", extra="ignore", frozen=True)

    http: HttpSettings = HttpSettings(port=8082)
    kafka: KafkaSettings
    postgres: PostgresSettings
    storage: StorageSettings = StorageSettings()
