"""docker-compose.dev.yml structure (no Docker engine here, so the file is checked, not run)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from deploy_support.chart import SERVICES
from deploy_support.tools import REPO

COMPOSE_FILE = REPO / "docker-compose.dev.yml"
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
ALL = COMPOSE["services"]
CORE = {name: spec for name, spec in ALL.items() if "obs" not in spec.get("profiles", [])}
OBS = {name: spec for name, spec in ALL.items() if "obs" in spec.get("profiles", [])}
PORTS = {"gateway": 8080, "projects": 8081, "files": 8082, "matcher": 8083, "results": 8084}


def test_no_obsolete_version_key() -> None:
    assert "version" not in COMPOSE
    assert not re.search(r"^version:", COMPOSE_FILE.read_text(), re.MULTILINE)


def test_core_stack_is_the_platform_and_its_infrastructure() -> None:
    assert set(CORE) == {"kafka", "postgres", "redis", "kafka-init", *SERVICES}
    assert set(OBS) >= {"otel-collector", "prometheus", "jaeger"}


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_container_has_a_memory_limit_and_the_shared_logging(name: str) -> None:
    spec = ALL[name]
    assert spec["deploy"]["resources"]["limits"]["memory"]
    assert spec["logging"] == COMPOSE["x-default-logging"]


@pytest.mark.parametrize("name", sorted(set(CORE) - {"kafka-init"}))
def test_every_long_running_core_container_has_a_healthcheck(name: str) -> None:
    healthcheck = ALL[name]["healthcheck"]
    assert not healthcheck.get("disable") and healthcheck["test"]


@pytest.mark.parametrize("name", sorted(ALL))
def test_dependencies_wait_for_health_or_completion(name: str) -> None:
    for dependency, condition in ALL[name].get("depends_on", {}).items():
        assert dependency in ALL
        if dependency == "kafka-init":
            wanted = "service_completed_successfully"  # a one-shot: wait for it to finish
        elif ALL[dependency].get("healthcheck", {}).get("disable"):
            wanted = "service_started"  # no probe tool in the image: nothing to wait on but the start
        else:
            wanted = "service_healthy"
        assert condition == {"condition": wanted}, f"{name} -> {dependency}"


@pytest.mark.parametrize("name", SERVICES)
def test_services_wait_for_their_infrastructure_and_run_hardened(name: str) -> None:
    spec = ALL[name]
    assert {"postgres", "redis", "kafka-init"} <= set(spec["depends_on"])
    assert spec["build"] == {"context": ".", "dockerfile": f"services/{name}/Dockerfile"}
    assert spec["read_only"] is True and spec["cap_drop"] == ["ALL"] and spec["user"] == "10001:10001"
    assert f"127.0.0.1:{PORTS[name]}/healthz" in " ".join(spec["healthcheck"]["test"])
    env = spec["environment"]
    prefix = name.upper()
    assert env[f"{prefix}_HTTP__PORT"] == str(PORTS[name]) and env[f"{prefix}_HTTP__HOST"] == "0.0.0.0"
    assert env[f"{prefix}_KAFKA__BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env[f"{prefix}_POSTGRES__DSN"].startswith("postgresql://") and env[f"{prefix}_REDIS__URL"]
    assert env[f"{prefix}_ENVIRONMENT"] == "dev"


def test_gateway_starts_after_the_services_it_fronts() -> None:
    depends = ALL["gateway"]["depends_on"]
    assert all(depends[upstream] == {"condition": "service_healthy"} for upstream in ("projects", "files", "results"))
    env = ALL["gateway"]["environment"]
    assert env["GATEWAY_UPSTREAMS__FILES_URL"] == "http://files:8082"


def test_topics_are_created_once_by_kafka_init() -> None:
    init = ALL["kafka-init"]
    assert init["command"] == ["python", "-m", "platform_common.topics", "ensure"]
    assert init["environment"]["TOPICS_KAFKA__BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert init["restart"] == "no" and init["build"]["dockerfile"] == "services/matcher/Dockerfile"
    assert ALL["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_host_ports_match_the_native_stack() -> None:
    """scripts/infra/lib.sh runs the same infrastructure natively on these ports."""
    lib = (REPO / "scripts/infra/lib.sh").read_text()
    native = {}
    for key in ("PG_PORT", "REDIS_PORT", "KAFKA_PORT"):  # e.g. PG_PORT="${RECON_PG_PORT:-54321}"
        match = re.search(rf"^{key}=\D*(\d+)", lib, re.MULTILINE)
        assert match, f"{key} not found in scripts/infra/lib.sh"
        native[key] = match.group(1)
    assert f"{native['PG_PORT']}:5432" in ALL["postgres"]["ports"]
    assert f"{native['REDIS_PORT']}:6379" in ALL["redis"]["ports"]
    assert f"{native['KAFKA_PORT']}:19092" in ALL["kafka"]["ports"]
    assert "localhost:19092" in ALL["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]


def test_kafka_is_a_single_kraft_node_of_version_4_1() -> None:
    kafka = ALL["kafka"]
    assert re.fullmatch(r"apache/kafka:4\.1\.\d+", kafka["image"])
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_observability_mounts_point_at_real_files() -> None:
    for spec in OBS.values():
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), source
    assert "--web.enable-otlp-receiver" in ALL["prometheus"]["command"]
