"""Settings of the gateway (env prefix GATEWAY_)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import AnyHttpUrl, BaseModel, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from platform_common.settings import HttpSettings, PostgresSettings, RedisSettings, ServiceSettings

SERVICE = "gateway"
SCHEMA = "identity"


class UpstreamSettings(BaseModel):
    projects_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8081")
    files_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8082")
    results_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8084")
    timeout_s: float = 10.0
    upload_timeout_s: float = 600.0
    connect_timeout_s: float = 2.0


class AuthSettings(BaseModel):
    jwt_secret: SecretStr | None = None
    # Verification-only during a rotation: tokens signed with the old secret stay valid until they expire.
    jwt_previous_secret: SecretStr | None = None
    access_token_ttl_s: int = Field(default=900, ge=30, le=3600)
    refresh_token_ttl_s: int = Field(default=14 * 24 * 3600, ge=300, le=90 * 24 * 3600)
    internal_key: SecretStr | None = None
    internal_token_ttl_s: int = Field(default=60, ge=5, le=600)
    # RFC 9106's second recommended profile (argon2-cffi's defaults); tests lower them to stay fast.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65_536, ge=1024)
    argon2_parallelism: int = Field(default=4, ge=1)
    hashing_concurrency: int = Field(default=2, ge=1, description="argon2 hashes at once (memory-hard: bound RAM)")


class RateLimitSettings(BaseModel):
    """Requests per minute; each limit also allows a burst of the same size."""

    auth_per_ip_per_minute: int = Field(default=20, ge=1)
    login_per_account_per_minute: int = Field(default=10, ge=1)
    user_per_minute: int = Field(default=1200, ge=1)
    # Behind N trusted proxies the client is the N-th address from the right of X-Forwarded-For.
    trusted_proxy_hops: int = Field(default=0, ge=0, le=5)
    key_prefix: str = "recon:rl"


class CorsSettings(BaseModel):
    allowed_origins: list[str] = Field(default_factory=list)
    max_age_s: int = 600

    @field_validator("allowed_origins")
    @classmethod
    def _explicit_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin == "*" or not origin.startswith(("https://", "http://")) or origin.endswith("/"):
                raise ValueError(f"{origin!r} is not an explicit origin like https://app.example.com")
        return origins


class ApiSettings(BaseModel):
    upload_max_bytes: int = 100 * 1024 * 1024
    v1_deprecated_at: datetime = datetime(2026, 12, 1, tzinfo=UTC)
    v1_sunset_at: datetime = datetime(2027, 6, 1, tzinfo=UTC)
    hsts_max_age_s: int = 31_536_000


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_nested_delimiter="__", extra="ignore", frozen=True)

    http: HttpSettings = HttpSettings(port=8080)
    postgres: PostgresSettings
    redis: RedisSettings
    auth: AuthSettings = AuthSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    cors: CorsSettings = CorsSettings()
    api: ApiSettings = ApiSettings()
    upstreams: UpstreamSettings = UpstreamSettings()
