"""A tiny Prometheus exporter serving synthetic matcher telemetry for canary scenarios.

Counters grow linearly from the moment the exporter starts, so every rate() is exact: a canary with a
0.7 % error share has a success rate of 0.993 whatever window is used. Histograms put a fixed share of
calls in each bucket, so p95 follows from Prometheus' linear interpolation inside the bucket.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The collector's spanmetrics boundaries in ms (observability/otel-collector.yaml).
BUCKETS_MS = (2, 5, 10, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 30000, 60000, 120000, 300000)
CALLS_PER_SECOND = 10.0
NAMESPACE = "recon"
ROLLOUT = "recon-platform-matcher"
SPAN = "shard.requested process"


@dataclass(frozen=True)
class Canary:
    """One ReplicaSet's shard processing: error share, latency shares by bucket upper bound, DLQ total."""

    pod_template_hash: str
    error_share: float = 0.0
    latency_shares: dict[int, float] = field(default_factory=lambda: {50: 1.0})
    dead_letters: int | None = None  # None: the counter series does not exist
    idle: bool = False  # series exist but never move (0/0 = NaN downstream)


@dataclass(frozen=True)
class Lag:
    """Consumer lag per partition over time: start + slope * seconds, never below 0."""

    namespace: str
    start: float
    slope: float
    partitions: int = 2


def labels(**pairs: str) -> str:
    return "{" + ",".join(f'{key}="{value}"' for key, value in pairs.items()) + "}"


def canary_lines(canary: Canary, elapsed: float) -> Iterator[str]:
    calls = 0.0 if canary.idle else CALLS_PER_SECOND * elapsed
    common = {"k8s_namespace_name": NAMESPACE, "service_name": "matcher", "span_name": SPAN,
              "k8s_replicaset_name": f"{ROLLOUT}-{canary.pod_template_hash}"}
    for status, share in (("STATUS_CODE_UNSET", 1 - canary.error_share), ("STATUS_CODE_ERROR", canary.error_share)):
        if share <= 0:
            continue
        series = {**common, "status_code": status}
        yield f"traces_span_metrics_calls_total{labels(**series)} {calls * share!r}"
        cumulative = 0.0
        for bound in BUCKETS_MS:
            cumulative += canary.latency_shares.get(bound, 0.0)
            yield f"traces_span_metrics_duration_milliseconds_bucket{labels(**series, le=str(bound))} {calls * share * cumulative!r}"
        yield f"traces_span_metrics_duration_milliseconds_bucket{labels(**series, le='+Inf')} {calls * share!r}"
        yield f"traces_span_metrics_duration_milliseconds_count{labels(**series)} {calls * share!r}"
    if canary.dead_letters is not None:
        series = {"namespace": NAMESPACE, "service": "matcher", "topic": "shard.requested",
                  "rollouts_pod_template_hash": canary.pod_template_hash}
        yield f"recon_kafka_dlq_messages_total{labels(**series)} {canary.dead_letters}"


def lag_lines(lag: Lag, elapsed: float) -> Iterator[str]:
    value = max(0.0, lag.start + lag.slope * elapsed)
    for partition in range(lag.partitions):
        series = {"namespace": lag.namespace, "service": "matcher", "topic": "shard.requested",
                  "partition": str(partition)}
        yield f"recon_kafka_consumer_lag_messages{labels(**series)} {value!r}"


class SyntheticExporter:
    def __init__(self, canaries: list[Canary], lags: list[Lag]) -> None:
        self.canaries, self.lags = canaries, lags
        self.started = time.monotonic()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exporter.exposition().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # scrapes every second: stay quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="synthetic-exporter", daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_port}"

    def exposition(self) -> str:
        elapsed = time.monotonic() - self.started
        lines = [line for canary in self.canaries for line in canary_lines(canary, elapsed)]
        lines += [line for lag in self.lags for line in lag_lines(lag, elapsed)]
        return "\n".join(lines) + "\n"

    def __enter__(self) -> SyntheticExporter:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
