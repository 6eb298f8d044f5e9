from __future__ import annotations

import pytest
from pydantic_settings import SettingsConfigDict

from platform_common.settings import (
    ConfigurationError,
    KafkaSettings,
    PostgresSettings,
    ServiceSettings,
    env_name,
    exit_with,
    load_settings,
    with_schema,
)


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", env_nested_delimiter="__", extra="ignore", frozen=True)

    kafka: KafkaSettings
    postgres: PostgresSettings


def test_missing_groups_are_reported_by_their_required_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEMO_KAFKA__BOOTSTRAP_SERVERS", raising=False)
    with pytest.raises(ConfigurationError) as caught:
        load_settings(DemoSettings)
    assert str(caught.value) == (
        "configuration error: DEMO_KAFKA__BOOTSTRAP_SERVERS is required but not set; "
        "DEMO_POSTGRES__DSN is required but not set"
    )


def test_invalid_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_KAFKA__BOOTSTRAP_SERVERS", "k:9092")
    monkeypatch.setenv("DEMO_POSTGRES__DSN", "postgresql://x")
    monkeypatch.setenv("DEMO_KAFKA__MAX_ATTEMPTS", "0")
    with pytest.raises(ConfigurationError, match=r"DEMO_KAFKA__MAX_ATTEMPTS is invalid"):
        load_settings(DemoSettings)


def test_settings_load_from_nested_environment_and_hide_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_KAFKA__BOOTSTRAP_SERVERS", "k:9092")
    monkeypatch.setenv("DEMO_POSTGRES__DSN", "postgresql://u:secret@h/db")
    monkeypatch.setenv("DEMO_HTTP__PORT", "9000")
    settings = load_settings(DemoSettings)
    assert settings.kafka.bootstrap_servers == "k:9092"
    assert settings.http.port == 9000
    assert "secret" not in repr(settings)
    assert settings.postgres.dsn.get_secret_value().endswith("@h/db")


def test_env_name_and_schema_defaults() -> None:
    assert env_name(DemoSettings, "kafka", "bootstrap_servers") == "DEMO_KAFKA__BOOTSTRAP_SERVERS"
    pg = PostgresSettings(dsn="postgresql://x")  # type: ignore[arg-type]
    assert with_schema(pg, "demo").schema_name == "demo"
    assert with_schema(pg.model_copy(update={"schema_name": "custom"}), "demo").schema_name == "custom"


def test_exit_with_prints_one_line_and_exits(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        exit_with("configuration error: X is required but not set", code=2)
    assert caught.value.code == 2
    assert capsys.readouterr().err == "configuration error: X is required but not set\n"
