"""What the chart renders, checked on the real `helm template` output of every CI values file:
hardening, probes, resources, scaling objects, secrets handling, image tags and settings wiring."""

from __future__ import annotations

import re

import pytest
import yaml
from deploy_support.chart import (
    CI_VALUES,
    HTTP_SERVICES,
    SERVICES,
    Manifest,
    by_component,
    component,
    of_kind,
    pod_specs,
    render,
    workloads,
)
from deploy_support.tools import REPO

VALUES = [path.name for path in CI_VALUES]
SECRET_LOOKING_NAME = re.compile(r"(DSN|SECRET|PASSWORD|TOKEN|_KEY|JWT|REDIS__URL)", re.IGNORECASE)
CREDENTIALS_IN_URL = re.compile(r"://[^/@\s]+:[^/@\s]+@")
PORTS = {"gateway": 8080, "projects": 8081, "files": 8082, "matcher": 8083, "results": 8084}


def env_of(container: Manifest) -> dict[str, Manifest]:
    return {item["name"]: item for item in container.get("env", [])}


@pytest.mark.parametrize("values", VALUES)
def test_every_pod_is_hardened(manifests: dict[str, list[Manifest]], values: str) -> None:
    checked = 0
    for name, spec in pod_specs(manifests[values]):
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["runAsNonRoot"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert "add" not in context["capabilities"], name
            # A read-only root needs a writable /tmp.
            assert any(mount["mountPath"] == "/tmp" for mount in container["volumeMounts"]), name
            checked += 1
    assert checked >= 5


@pytest.mark.parametrize("values", VALUES)
def test_every_service_has_probes_resources_and_a_drain_budget(
    manifests: dict[str, list[Manifest]], values: str
) -> None:
    found = workloads(manifests[values])
    assert set(found) == set(SERVICES)
    for name, workload in found.items():
        spec = workload["spec"]["template"]["spec"]
        container = spec["containers"][0]
        assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        # Readiness is "dependencies connected", never "partitions assigned" (a canary would never be ready).
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["ports"] == [{"name": "http", "containerPort": PORTS[name], "protocol": "TCP"}]
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"], name
        pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", ["sleep", "0"])
        shutdown = int(yaml.safe_load(config_map(manifests[values], name)[f"{name.upper()}_SHUTDOWN_TIMEOUT_S"]))
        assert int(pre_stop[1]) + shutdown < spec["terminationGracePeriodSeconds"], name
        if name in HTTP_SERVICES:
            assert int(pre_stop[1]) > 0, f"{name} is an HTTP backend and needs a preStop delay"


def test_default_resources_follow_the_spec(manifests: dict[str, list[Manifest]]) -> None:
    found = workloads(manifests["default-values.yaml"])
    for name in HTTP_SERVICES:
        resources = found[name]["spec"]["template"]["spec"]["containers"][0]["resources"]
        assert resources == {"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}
    matcher = found["matcher"]["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert matcher["requests"]["memory"] != "256Mi", "the CPU-bound matcher gets more than the HTTP default"


def test_http_services_autoscale_and_the_matcher_does_not(manifests: dict[str, list[Manifest]]) -> None:
    docs = manifests["default-values.yaml"]
    autoscalers = by_component(docs, "HorizontalPodAutoscaler")
    assert set(autoscalers) == set(HTTP_SERVICES)
    deployments = by_component(docs, "Deployment")
    for name, hpa in autoscalers.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        spec = hpa["spec"]
        assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 10)
        assert spec["metrics"] == [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                          "name": deployments[name]["metadata"]["name"]}
        # The HPA owns the replica count; a fixed one would be reset on every upgrade.
        assert "replicas" not in deployments[name]["spec"]


@pytest.mark.parametrize("values", ["default-values.yaml", "all-features.yaml"])
def test_disruption_budgets_select_their_pods(manifests: dict[str, list[Manifest]], values: str) -> None:
    docs = manifests[values]
    budgets = by_component(docs, "PodDisruptionBudget")
    assert set(budgets) == set(SERVICES)
    found = workloads(docs)
    for name, budget in budgets.items():
        assert budget["apiVersion"] == "policy/v1"
        pod_labels = found[name]["spec"]["template"]["metadata"]["labels"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        if name in HTTP_SERVICES:
            assert budget["spec"] == {"minAvailable": 1, "selector": budget["spec"]["selector"]}
        else:
            assert "minAvailable" not in budget["spec"] and budget["spec"]["maxUnavailable"] == 1


def test_services_route_to_the_workload_ports(manifests: dict[str, list[Manifest]]) -> None:
    docs = manifests["default-values.yaml"]
    found = workloads(docs)
    for name, service in by_component(docs, "Service").items():
        assert service["spec"]["ports"] == [{"name": "http", "port": PORTS[name], "targetPort": "http", "protocol": "TCP"}]
        assert service["spec"]["selector"].items() <= found[name]["spec"]["template"]["metadata"]["labels"].items()


@pytest.mark.parametrize("values", VALUES)
def test_no_secret_is_inline(manifests: dict[str, list[Manifest]], rendered: dict[str, str], values: str) -> None:
    docs = manifests[values]
    assert not of_kind(docs, "Secret"), "the chart references existing Secrets, it never creates one"
    assert not CREDENTIALS_IN_URL.search(rendered[values])
    for config in of_kind(docs, "ConfigMap"):
        for key in config["data"]:
            assert not re.search(r"(DSN|SECRET|PASSWORD|TOKEN)", key), f"{key} belongs in a Secret"
    for name, spec in pod_specs(docs):
        for container in spec["containers"]:
            for env_name, item in env_of(container).items():
                if SECRET_LOOKING_NAME.search(env_name):
                    assert "secretKeyRef" in item.get("valueFrom", {}), f"{name}: {env_name} must come from a Secret"


def test_every_service_reads_its_dsn_and_the_gateway_its_jwt_secret_from_secrets(
    manifests: dict[str, list[Manifest]],
) -> None:
    found = workloads(manifests["default-values.yaml"])
    for name, workload in found.items():
        env = env_of(workload["spec"]["template"]["spec"]["containers"][0])
        assert env[f"{name.upper()}_POSTGRES__DSN"]["valueFrom"]["secretKeyRef"] == {
            "name": "recon-postgres", "key": f"{name}-dsn"}
    gateway_env = env_of(found["gateway"]["spec"]["template"]["spec"]["containers"][0])
    assert gateway_env["GATEWAY_AUTH__JWT_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "recon-gateway-auth"


@pytest.mark.parametrize("values", VALUES)
def test_images_are_pinned(manifests: dict[str, list[Manifest]], values: str) -> None:
    for name, spec in pod_specs(manifests[values]):
        for container in spec["containers"]:
            repository, _, tag = container["image"].rpartition(":")
            assert repository and tag and tag != "latest", f"{name}: {container['image']}"
            assert "/" in repository


def test_images_default_to_the_chart_app_version(manifests: dict[str, list[Manifest]]) -> None:
    app_version = yaml.safe_load((REPO / "charts/platform/Chart.yaml").read_text())["appVersion"]
    for _, spec in pod_specs(manifests["default-values.yaml"]):
        assert spec["containers"][0]["image"].endswith(f":{app_version}")


def config_map(docs: list[Manifest], name: str) -> dict[str, str]:
    data: dict[str, str] = by_component(docs, "ConfigMap")[name]["data"]
    return data


@pytest.mark.parametrize("values", VALUES)
def test_settings_use_each_service_prefix(manifests: dict[str, list[Manifest]], values: str) -> None:
    docs = manifests[values]
    for name, workload in workloads(docs).items():
        data = config_map(docs, name)
        prefix = name.upper()
        assert data[f"{prefix}_HTTP__PORT"] == str(PORTS[name])
        assert data[f"{prefix}_HTTP__HOST"] == "0.0.0.0"
        assert data[f"{prefix}_ENVIRONMENT"] in {"dev", "test", "prod"}
        assert data[f"{prefix}_KAFKA__BOOTSTRAP_SERVERS"]
        container = workload["spec"]["template"]["spec"]["containers"][0]
        assert container["envFrom"] == [{"configMapRef": {"name": by_component(docs, "ConfigMap")[name]["metadata"]["name"]}}]
        # Redis is configured exactly once: inline when credential-free, from a Secret otherwise.
        assert (f"{prefix}_REDIS__URL" in data) != (f"{prefix}_REDIS__URL" in env_of(container))


def test_files_storage_is_a_mounted_volume(manifests: dict[str, list[Manifest]]) -> None:
    for values, claim in (("default-values.yaml", None), ("all-features.yaml", "recon-files")):
        docs = manifests[values]
        spec = workloads(docs)["files"]["spec"]["template"]["spec"]
        mount = next(m for m in spec["containers"][0]["volumeMounts"] if m["name"] == "storage")
        assert config_map(docs, "files")["FILES_STORAGE__ROOT"] == mount["mountPath"]
        volume = next(v for v in spec["volumes"] if v["name"] == "storage")
        assert volume.get("persistentVolumeClaim", {}).get("claimName") == claim


def test_gateway_upstreams_are_the_rendered_services(manifests: dict[str, list[Manifest]]) -> None:
    docs = manifests["default-values.yaml"]
    services = {component(doc): doc for doc in of_kind(docs, "Service")}
    env = env_of(workloads(docs)["gateway"]["spec"]["template"]["spec"]["containers"][0])
    for upstream in ("projects", "files", "results"):
        service = services[upstream]
        expected = f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
        assert env[f"GATEWAY_UPSTREAMS__{upstream.upper()}_URL"]["value"] == expected


@pytest.mark.parametrize("values", VALUES)
def test_telemetry_identity_comes_from_the_downward_api(manifests: dict[str, list[Manifest]], values: str) -> None:
    for name, workload in workloads(manifests[values]).items():
        env = env_of(workload["spec"]["template"]["spec"]["containers"][0])
        assert env["OTEL_SERVICE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.labels['app.kubernetes.io/component']"
        assert workload["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == name
        hash_label = "rollouts-pod-template-hash" if workload["kind"] == "Rollout" else "pod-template-hash"
        assert env["K8S_POD_TEMPLATE_HASH"]["valueFrom"]["fieldRef"]["fieldPath"] == f"metadata.labels['{hash_label}']"
        attributes = dict(pair.split("=", 1) for pair in env["OTEL_RESOURCE_ATTRIBUTES"]["value"].split(","))
        image_tag = workload["spec"]["template"]["spec"]["containers"][0]["image"].rpartition(":")[2]
        assert attributes["service.version"] == image_tag
        assert attributes["deployment.environment.name"] in {"dev", "test", "prod"}
        assert attributes["rollouts.pod_template_hash"] == "$(K8S_POD_TEMPLATE_HASH)"
        # $(VAR) expands only variables defined earlier in the list.
        names = list(env)
        assert names.index("K8S_POD_TEMPLATE_HASH") < names.index("OTEL_RESOURCE_ATTRIBUTES")


def checksum(docs: list[Manifest], name: str) -> str:
    return str(workloads(docs)[name]["spec"]["template"]["metadata"]["annotations"]["checksum/config"])


def test_a_settings_change_rolls_the_pods_and_a_replica_change_does_not() -> None:
    base = render()
    changed_settings = render("--set", "kafka.bootstrapServers=kafka-2:9092")
    changed_replicas = render("--set", "components.matcher.replicas=8")
    for name in SERVICES:
        assert checksum(changed_settings, name) != checksum(base, name)
        assert checksum(changed_replicas, name) == checksum(base, name)


def test_topics_job_runs_before_install_and_upgrade(manifests: dict[str, list[Manifest]]) -> None:
    (job,) = of_kind(manifests["default-values.yaml"], "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "platform_common.topics", "ensure"]
    assert env_of(container)["TOPICS_KAFKA__BOOTSTRAP_SERVERS"]["value"] == "kafka-bootstrap.kafka.svc:9092"
    assert job["spec"]["activeDeadlineSeconds"] > 0 and job["spec"]["backoffLimit"] > 0
    assert not of_kind(manifests["matcher-deployment.yaml"], "Job"), "topicsJob.enabled=false renders no Job"


def test_prometheus_operator_objects_carry_the_canary_labels_and_every_rule(
    manifests: dict[str, list[Manifest]],
) -> None:
    docs = manifests["all-features.yaml"]
    (pod_monitor,) = of_kind(docs, "PodMonitor")
    assert "rollouts-pod-template-hash" in pod_monitor["spec"]["podTargetLabels"]
    assert pod_monitor["spec"]["podMetricsEndpoints"][0]["port"] == "http"
    (rule,) = of_kind(docs, "PrometheusRule")
    # Verbatim, annotation templates ({{ $labels.service }}) included: Helm must not evaluate them.
    source_groups = [group for path in sorted((REPO / "observability/prometheus/rules").glob("*.yml"))
                     for group in yaml.safe_load(path.read_text())["groups"]]
    assert rule["spec"]["groups"] == source_groups
    assert sum(len(group["rules"]) for group in source_groups) > 20
    assert not of_kind(manifests["default-values.yaml"], "PodMonitor", "PrometheusRule", "NetworkPolicy")


def test_network_policies_cover_every_component(manifests: dict[str, list[Manifest]]) -> None:
    policies = by_component(manifests["all-features.yaml"], "NetworkPolicy")
    assert set(policies) == set(SERVICES)
    internal = policies["projects"]["spec"]["ingress"]
    assert any("podSelector" in peer for rule in internal for peer in rule.get("from", []))
    gateway_sources = [peer for rule in policies["gateway"]["spec"]["ingress"] for peer in rule.get("from", [])]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}} in gateway_sources
