"""Generate observability/grafana/dashboards/*.json (spec: Monitoring Dashboard Requirements, P1.2).

    uv run python observability/grafana/build_dashboards.py          # rewrite the JSON files
    uv run python observability/grafana/build_dashboards.py --check  # exit 1 if they are stale

The Matcher dashboard's canary panels are built from argo-rollouts/cluster-analysis-templates.yaml, so
the graphs a human reads during a rollout run exactly the PromQL the analysis runs.
"""

from __future__ import annotations

import json
import re
import sys
from functools import partial
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard_kit import Dashboard, Json, Panel, Target, Threshold, query_variable, textbox_variable

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
OUTPUT_DIR = HERE / "dashboards"
ANALYSIS_TEMPLATES = REPO / "argo-rollouts" / "cluster-analysis-templates.yaml"
ARG_PATTERN = re.compile(r"\{\{\s*args\.([a-z0-9-]+)\s*\}\}")

PROBES = 'route!~"/healthz|/readyz|/metrics"'
SCOPE = 'namespace=~"$namespace", service=~"$service"'
HTTP = f"{SCOPE}, {PROBES}"
HTTP_5XX = HTTP + ', status=~"5.."'
HTTP_REFUSED = HTTP + ', status=~"401|403|429"'
NAMESPACE = 'namespace=~"$namespace"'
RATE = "$__rate_interval"
REQUESTS = "http_server_request_duration_seconds_count"


def rate(metric: str, selector: str, window: str = RATE) -> str:
    return f"rate({metric}{{{selector}}}[{window}])"


def scoped_variables() -> list[Json]:
    return [
        query_variable("namespace", "Namespace", "label_values(up, namespace)"),
        query_variable("service", "Service", "label_values(http_server_request_duration_seconds_count, service)"),
    ]


def quantile(q: float, metric: str, selector: str, by: str = "") -> str:
    grouping = f"{by}, le" if by else "le"
    return f"histogram_quantile({q}, sum by ({grouping}) (rate({metric}_bucket{{{selector}}}[{RATE}])))"


def system_health() -> Dashboard:
    gateway = f'namespace=~"$namespace", service="gateway", {PROBES}'
    availability = (
        f'1 - (sum(increase({REQUESTS}{{{gateway}, status=~"5.."}}[$__range])) or vector(0))'
        f" / sum(increase({REQUESTS}{{{gateway}}}[$__range]))"
    )
    return Dashboard(
        uid="recon-system-health", title="Recon / System Health",
        description="API availability, errors, traffic and latency (KPIs: availability >= 99.9 %/month, p95 < 250 ms).",
        variables=scoped_variables(),
        panels=[
            Panel("API availability (gateway, dashboard range)", (Target(availability),), kind="stat",
                  unit="percentunit", width=6, height=5, base_color="red",
                  thresholds=(Threshold(0.995, "orange"), Threshold(0.999, "green"))),
            Panel("Error budget left (30 days, 99.9 % SLO)", (Target(
                "1 - (1 - (" + availability.replace("$__range", "30d") + ")) / 0.001"),), kind="stat",
                unit="percentunit", width=6, height=5, base_color="red",
                thresholds=(Threshold(0.25, "orange"), Threshold(0.5, "green"))),
            Panel("Request rate", (Target(f"sum({rate(REQUESTS, HTTP)})"),),
                  kind="stat", unit="reqps", width=6, height=5),
            Panel("Error rate (5xx)", (Target(
                f"sum({rate(REQUESTS, HTTP_5XX)}) or vector(0)"
                f" / sum({rate(REQUESTS, HTTP)})"),),
                kind="stat", unit="percentunit", width=6, height=5, thresholds=(Threshold(0.01, "red"),)),
            Panel("Requests per second by service", (Target(
                f"sum by (service) ({rate(REQUESTS, HTTP)})", "{{service}}"),),
                unit="reqps", stacked=True),
            Panel("Error rate by endpoint (5xx share)", (Target(
                f"sum by (service, route) ({rate(REQUESTS, HTTP_5XX)})"
                f" / sum by (service, route) ({rate(REQUESTS, HTTP)})",
                "{{service}} {{route}}"),), unit="percentunit", thresholds=(Threshold(0.01, "red"),)),
            Panel("Response time p50 / p95 / p99", tuple(
                Target(quantile(q, "http_server_request_duration_seconds", HTTP), f"p{round(q * 100)}")
                for q in (0.5, 0.95, 0.99)), unit="s", thresholds=(Threshold(0.25, "red"),)),
            Panel("p95 by service", (Target(
                quantile(0.95, "http_server_request_duration_seconds", HTTP, by="service"), "{{service}}"),),
                unit="s", thresholds=(Threshold(0.25, "red"),)),
            Panel("Slowest endpoints (p95)", (Target(
                f"topk(10, {quantile(0.95, 'http_server_request_duration_seconds', HTTP, by='service, route')})",
                "{{service}} {{route}}"),), unit="s", width=24, thresholds=(Threshold(0.25, "red"),)),
        ],
    )


def database() -> Dashboard:
    db = SCOPE
    slow = (
        f"sum by (service, operation) (increase(recon_db_query_duration_seconds_count{{{db}}}[$__range]))"
        f' - sum by (service, operation) (increase(recon_db_query_duration_seconds_bucket{{{db}, le="1.0"}}[$__range]))'
    )
    return Dashboard(
        uid="recon-database", title="Recon / Database",
        description="Query latency (target p95 < 150 ms, alert > 200 ms), pool utilisation "
                    "(alert > 80 % / 90 %), slow queries.",
        variables=scoped_variables(),
        panels=[
            Panel("Query p95 by operation", (Target(
                quantile(0.95, "recon_db_query_duration_seconds", db, by="service, operation"),
                "{{service}} {{operation}}"),), unit="s",
                thresholds=(Threshold(0.15, "orange"), Threshold(0.2, "red"))),
            Panel("Query duration p50 / p95 / p99", tuple(
                Target(quantile(q, "recon_db_query_duration_seconds", db), f"p{round(q * 100)}")
                for q in (0.5, 0.95, 0.99)), unit="s", thresholds=(Threshold(0.15, "orange"), Threshold(0.2, "red"))),
            Panel("Pool utilisation (active / max) per pod", (Target(
                f"instance:recon_db_pool_utilisation:ratio{{{db}}}", "{{service}} {{pod}}"),), unit="percentunit",
                max_value=1, thresholds=(Threshold(0.8, "orange"), Threshold(0.9, "red"))),
            Panel("Pool connections by state", (Target(
                f"sum by (service, state) (recon_db_pool_connections{{{db}}})", "{{service}} {{state}}"),)),
            Panel("Slow queries (> 1 s) in range by operation", (Target(slow, "{{service}} {{operation}}"),),
                  unit="short", thresholds=(Threshold(1, "orange"),)),
            Panel("Queries per second by operation", (Target(
                f"sum by (service, operation) (rate(recon_db_query_duration_seconds_count{{{db}}}[{RATE}]))",
                "{{service}} {{operation}}"),), unit="ops"),
            Panel("Index vs sequential scans by table (postgres_exporter)", (
                Target("sum by (relname) (rate(pg_stat_user_tables_idx_scan[$__rate_interval]))", "{{relname}} index"),
                Target("sum by (relname) (rate(pg_stat_user_tables_seq_scan[$__rate_interval]))", "{{relname}} seq")),
                unit="ops", width=24,
                description="Needs postgres_exporter (stat_user_tables collector) scraping the database; "
                            "empty without it. The quarterly EXPLAIN audit covers the rest."),
        ],
    )


def cache() -> Dashboard:
    hits = f"sum by (service, cache_level, key_type) (rate(recon_cache_hits_total{{{SCOPE}}}[{RATE}]))"
    misses = f"sum by (service, cache_level, key_type) (rate(recon_cache_misses_total{{{SCOPE}}}[{RATE}]))"
    return Dashboard(
        uid="recon-cache", title="Recon / Cache",
        description="Hit rate by level and key type (target > 80 %, alert < 60 % for 30 min); "
                    "Redis expiry, evictions, memory.",
        variables=scoped_variables(),
        panels=[
            Panel("Hit rate by service", (Target(
                f"service:recon_cache_hit_ratio:rate5m{{{SCOPE}}}", "{{service}}"),), unit="percentunit",
                max_value=1, base_color="red", thresholds=(Threshold(0.6, "orange"), Threshold(0.8, "green"))),
            Panel("Hit rate by level and key type", (Target(
                f"({hits} or 0 * {misses}) / ({hits} + {misses} or {misses} or {hits})",
                "{{service}} {{cache_level}} {{key_type}}"),), unit="percentunit", max_value=1,
                base_color="red", thresholds=(Threshold(0.6, "orange"), Threshold(0.8, "green"))),
            Panel("Hits per second by level", (Target(
                f"sum by (cache_level) (rate(recon_cache_hits_total{{{SCOPE}}}[{RATE}]))", "{{cache_level}} hits"),),
                unit="ops", stacked=True),
            Panel("Misses per second by level", (Target(
                f"sum by (cache_level) ({rate('recon_cache_misses_total', SCOPE)})", "{{cache_level}} misses"),),
                unit="ops", stacked=True),
            Panel("Key expirations per second (redis_exporter)", (Target(
                f"sum(rate(redis_expired_keys_total[{RATE}]))", "expired"),), unit="ops", width=8,
                description="Needs redis_exporter; empty without it."),
            Panel("Evictions per second (redis_exporter)", (Target(
                f"sum(rate(redis_evicted_keys_total[{RATE}]))", "evicted"),), unit="ops", width=8,
                thresholds=(Threshold(1, "orange"),), description="Needs redis_exporter; empty without it."),
            Panel("Redis memory used / max (redis_exporter)", (
                Target("sum(redis_memory_used_bytes)", "used"), Target("sum(redis_memory_max_bytes)", "max")),
                unit="bytes", width=8, description="Needs redis_exporter; empty without it."),
        ],
    )


def security() -> Dashboard:
    return Dashboard(
        uid="recon-security", title="Recon / Security",
        description="Rate-limit blocks, authentication failures, authorisation denials.",
        variables=scoped_variables(),
        panels=[
            Panel("Rate-limit blocks by scope", (Target(
                f"sum by (service, scope) (rate(recon_rate_limit_rejections_total{{{SCOPE}}}[{RATE}]))",
                "{{service}} {{scope}}"),), unit="reqps", stacked=True),
            Panel("Authentication failures by reason", (Target(
                f"sum by (reason) ({rate('recon_auth_failures_total', NAMESPACE)})", "{{reason}}"),),
                unit="reqps", stacked=True),
            Panel("Authorisation denials by service", (Target(
                f"sum by (service) (rate(recon_authz_denials_total{{{SCOPE}}}[{RATE}]))", "{{service}}"),),
                unit="reqps", stacked=True),
            Panel("401 / 403 / 429 responses by route", (Target(
                f"sum by (status, route) ({rate(REQUESTS, HTTP_REFUSED)})",
                "{{status}} {{route}}"),), unit="reqps"),
            Panel("Vulnerability scans", kind="text", width=24, height=4, text=(
                "Dependency and image CVE scans run in CI and block a release on any High/Critical finding "
                "(spec: Security Vulnerability alert). Their results live with the CI run, not in Prometheus.")),
        ],
    )


def analysis_panels() -> list[Panel]:
    """The canary analysis queries, verbatim, with Argo args replaced by dashboard variables."""
    documents = [doc for doc in yaml.safe_load_all(ANALYSIS_TEMPLATES.read_text(encoding="utf-8")) if doc]
    panels: list[Panel] = []
    for template in documents:
        defaults = {arg["name"]: arg["value"] for arg in template["spec"]["args"] if "value" in arg}
        for metric in template["spec"]["metrics"]:
            query = metric["provider"]["prometheus"]["query"]
            expr = ARG_PATTERN.sub(partial(grafana_arg, defaults=defaults), query)
            panels.append(Panel(
                f"{template['metadata']['name']} / {metric['name']}", (Target(expr.strip(), metric["name"]),),
                width=8, description=f"success: {metric.get('successCondition', '-')}; "
                                     f"failure: {metric.get('failureCondition', '-')}"))
    return panels


def grafana_arg(match: re.Match[str], *, defaults: dict[str, str]) -> str:
    name = match.group(1)
    variables = {"canary-hash": "$canary_hash", "stable-hash": "$stable_hash", "rollout-name": "$rollout",
                 "namespace": "$namespace", "service-name": "matcher"}
    if name in variables:
        return variables[name]
    if name in defaults:
        return defaults[name]
    raise KeyError(f"analysis arg {name!r} has no dashboard variable and no default")


def matcher() -> Dashboard:
    m = 'namespace=~"$namespace", service="matcher"'
    hash_query = 'label_values(recon_kafka_assigned_partitions{service="matcher"}, rollouts_pod_template_hash)'
    return Dashboard(
        uid="recon-matcher", title="Recon / Matcher",
        description="Shards, pairs, dead letters, lag and partitions; canary panels run the Argo analysis queries.",
        variables=[
            # Single-valued: the analysis queries match namespace with `=`, exactly as Argo runs them.
            query_variable("namespace", "Namespace", "label_values(up, namespace)", include_all=False),
            query_variable("canary_hash", "Canary pod-template hash", hash_query, include_all=False),
            query_variable("stable_hash", "Stable pod-template hash", hash_query, include_all=False),
            textbox_variable("rollout", "Rollout name", "recon-platform-matcher"),
        ],
        panels=[
            Panel("Shards finished per second", (Target(
                f"sum({rate('recon_matcher_shard_duration_seconds_count', m)})", "shards"),), unit="ops", width=8),
            Panel("Shard duration p50 / p95", tuple(
                Target(quantile(q, "recon_matcher_shard_duration_seconds", m), f"p{round(q * 100)}")
                for q in (0.5, 0.95)), unit="s", width=8),
            Panel("Pairs per second by status", (Target(
                f"sum by (status) (rate(recon_matcher_pairs_total{{{m}}}[{RATE}]))", "{{status}}"),),
                unit="ops", width=8, stacked=True),
            Panel("Messages by topic and outcome", (Target(
                f"sum by (topic, outcome) (rate(recon_kafka_messages_processed_total{{{m}}}[{RATE}]))",
                "{{topic}} {{outcome}}"),), unit="ops", width=8),
            Panel("Dead-lettered (in range)", (Target(
                f"sum by (topic) (increase(recon_kafka_dlq_messages_total{{{m}}}[$__range]))", "{{topic}}"),),
                width=8, thresholds=(Threshold(1, "red"),)),
            Panel("Consumer lag by topic", (Target(
                f"service_topic:recon_kafka_consumer_lag_messages:sum{{{m}}}", "{{topic}}"),), width=8,
                thresholds=(Threshold(1000, "orange"),)),
            Panel("Assigned partitions per pod", (Target(
                f"sum by (pod, topic) (recon_kafka_assigned_partitions{{{m}}})", "{{pod}} {{topic}}"),),
                width=12, stacked=True),
            Panel("Pods by rollout role", (Target(
                f"count by (rollout_role) (recon_kafka_assigned_partitions{{{m}, topic=\"shard.requested\"}})",
                "{{rollout_role}}"),), width=12),
            *analysis_panels(),
        ],
    )


DASHBOARDS = (system_health, database, cache, security, matcher)


def render_all() -> dict[str, str]:
    rendered = {}
    for build in DASHBOARDS:
        dashboard = build().to_json()
        rendered[f"{dashboard['uid']}.json"] = json.dumps(dashboard, indent=2, sort_keys=True) + "\n"
    return rendered


def main(argv: list[str]) -> int:
    rendered = render_all()
    if "--check" in argv:
        stale = [name for name, text in rendered.items()
                 if not (OUTPUT_DIR / name).exists() or (OUTPUT_DIR / name).read_text(encoding="utf-8") != text]
        if stale:
            print(f"stale dashboards (rerun build_dashboards.py): {', '.join(stale)}", file=sys.stderr)
            return 1
        return 0
    OUTPUT_DIR.mkdir(exist_ok=True)
    for name, text in rendered.items():
        (OUTPUT_DIR / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(rendered)} dashboards to {OUTPUT_DIR}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
