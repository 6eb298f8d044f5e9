"""Prometheus metrics served on /metrics. Labels stay low-cardinality: never a job, user or record id."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "HTTP server request duration by route template.",
    ["service", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DB_QUERY_DURATION = Histogram(
    "recon_db_query_duration_seconds",
    "Database query duration by logical operation.",
    ["service", "operation"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.5, 1.0, 5.0),
)
DB_POOL_CONNECTIONS = Gauge(
    "recon_db_pool_connections", "Connections in the asyncpg pool by state.", ["service", "state"]
)
CACHE_HITS = Counter("recon_cache_hits_total", "Cache hits.", ["service", "cache_level", "key_type"])
CACHE_MISSES = Counter("recon_cache_misses_total", "Cache misses.", ["service", "cache_level", "key_type"])
KAFKA_PROCESSED = Counter(
    "recon_kafka_messages_processed_total",
    "Consumed messages by outcome (success, retried, dead_lettered, duplicate).",
    ["service", "topic", "outcome"],
)
KAFKA_PROCESS_DURATION = Histogram(
    "recon_kafka_process_duration_seconds",
    "Time to process one consumed message, retries included.",
    ["service", "topic"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0),
)
KAFKA_DLQ = Counter("recon_kafka_dlq_messages_total", "Messages sent to a dead-letter topic.", ["service", "topic"])
KAFKA_ASSIGNED = Gauge(
    "recon_kafka_assigned_partitions", "Partitions currently assigned to this consumer.", ["service", "topic"]
)
KAFKA_LAG = Gauge(
    "recon_kafka_consumer_lag_messages", "High watermark minus next offset to process.",
    ["service", "topic", "partition"],
)
KAFKA_PUBLISHED = Counter(
    "recon_kafka_messages_published_total", "Messages published.", ["service", "topic"]
)
RATE_LIMIT_REJECTIONS = Counter(
    "recon_rate_limit_rejections_total", "Requests refused by the rate limiter.", ["service", "scope"]
)
AUTH_FAILURES = Counter("recon_auth_failures_total", "Failed authentications by reason.", ["reason"])
AUTHZ_DENIALS = Counter("recon_authz_denials_total", "Requests denied by project authorisation.", ["service"])
MATCHER_SHARD_DURATION = Histogram(
    "recon_matcher_shard_duration_seconds", "Time to load, match and emit one shard.", ["service"],
    buckets=(0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
)
MATCHER_PAIRS = Counter("recon_matcher_pairs_total", "Matches produced, by status.", ["service", "status"])
MATCHER_CPU_POOL_RESTARTS = Counter(
    "recon_matcher_cpu_pool_restarts_total", "CPU process pools replaced after a worker process died.", ["service"]
)
MATCHER_CPU_ISOLATED_RERUNS = Counter(
    "recon_matcher_cpu_isolated_reruns_total",
    "Calls run again alone after a worker process died while they shared the CPU pool with other calls.",
    ["service"],
)
MATCHER_BOOKKEEPING_ROWS_DELETED = Counter(
    "recon_matcher_bookkeeping_rows_deleted_total",
    "Rows of the matcher's bookkeeping (plans, shard members, failures, worker losses) deleted by retention.",
    ["service", "table"],
)
