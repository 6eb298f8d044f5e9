"""Settings of the files service (env prefix FILES_)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from platform_common.auth import ServiceAuthSettings
from platform_common.events import FileIngested, FileUploaded
from platform_common.settings import HttpSettings, KafkaSettings, PostgresSettings, ServiceSettings

SERVICE = "files"
SCHEMA = "files"
MIB = 1024 * 1024


class S3Settings(BaseModel):
    """An S3-API endpoint (AWS, MinIO, moto_server...). Used for uploads when `backend` is s3, and to read
    external drop-offs from `s3://` URIs whatever the backend."""

    bucket: str
    endpoint_url: str | None = None  # None: AWS itself
    region: str = "us-east-1"
    access_key_id: SecretStr | None = None  # None: the default AWS credential chain
    secret_access_key: SecretStr | None = None
    # Multipart parts must be >= 5 MiB (except the last); 8 MiB keeps two parts in flight well under 50 MiB.
    part_size_bytes: int = Field(default=8 * MIB, ge=5 * MIB)


class StorageSettings(BaseModel):
    backend: Literal["filesystem", "s3"] = "filesystem"
    root: Path = Path(".local/objects")
    s3: S3Settings | None = None
    max_upload_bytes: int = Field(default=100 * MIB, ge=1)
    # Where external systems may drop objects off, besides our own root / bucket. Anything else is refused.
    external_roots: tuple[Path, ...] = ()
    external_buckets: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _s3_configured(self) -> StorageSettings:
        if self.backend == "s3" and self.s3 is None:
            raise ValueError("backend 's3' needs the s3 group (FILES_STORAGE__S3__BUCKET at least)")
        return self


class IngestSettings(BaseModel):
    workers: int = Field(default=1, ge=1)  # parser processes; each ingestion uses one
    # Text per parser block: 2 MiB keeps a parser process near 300 MB on a 100 MB file (8 MiB: ~500 MB) for
    # ~4 % more CPU, and starts the COPY sooner. A data source's parse options may still set block_bytes.
    block_bytes: int = Field(default=2 * MIB, ge=64 * 1024)
    copy_timeout_s: float = 900.0  # one ingestion's COPY; the pool's command timeout is too short for 1M rows
    scratch_dir: Path | None = None  # where s3 objects are spooled to before parsing; None: system temp
    preview_rows: int = Field(default=20, ge=1, le=1000)


class TopicSettings(BaseModel):
    """Topic names and the consumer group default to the catalogue; overridable per environment (and per test
    run, so a test's service never shares a topic or a group with another running instance)."""

    uploaded: str = FileUploaded.TOPIC
    ingested: str = FileIngested.TOPIC
    consumer_group: str = "files"


class FilesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FILES_", env_nested_delimiter="__", extra="ignore", frozen=True)

    http: HttpSettings = HttpSettings(port=8082)
    kafka: KafkaSettings
    postgres: PostgresSettings
    storage: StorageSettings = StorageSettings()
    ingest: IngestSettings = IngestSettings()
    topics: TopicSettings = TopicSettings()
    # The gateway's identity token key, and where to ask for a caller's project role.
    auth: ServiceAuthSettings = ServiceAuthSettings()
    # The seed's POST /api/files/upload stays as an alias until this date (RFC 8594 Sunset header).
    legacy_upload_sunset: date = date(2027, 6, 1)
