"""Settings of the gateway (env prefix GATEWAY_)."""

from __future__ import annotations

from pydantic import AnyHttpUrl, BaseModel
from pydantic_settings import SettingsConfigDict

from platform_common.settings import HttpSettings, RedisSettings, ServiceSettings

SERVICE = "gateway"


class UpstreamSettings(BaseModel):
    projects_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8081")
    files_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8082")
    results_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8084")
    timeout_s: float = 10.0
    connect_timeout_s: float = 2.0


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_nested_delimiter="__", extra="ignore", frozen=True)

    http: HttpSettings = HttpSettings(port=8080)
    redis: RedisSettings
    upstreams: UpstreamSettings = UpstreamSettings()
