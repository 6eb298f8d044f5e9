"""W3C trace context carried in Kafka headers, never in the message body."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import context as otel_context
from opentelemetry import propagate

KafkaHeaders = list[tuple[str, bytes]]


def inject_headers(headers: KafkaHeaders | None = None) -> KafkaHeaders:
    """Add the current trace context (traceparent, tracestate, baggage) to Kafka headers."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    result = list(headers or [])
    result.extend((key, value.encode()) for key, value in carrier.items())
    return result


def extract_context(headers: Sequence[tuple[str, bytes]] | None) -> otel_context.Context:
    """The trace context a producer left in the headers (empty context when there is none)."""
    carrier = {key: value.decode("latin-1") for key, value in headers or () if value is not None}
    return propagate.extract(carrier)


def header_value(headers: Sequence[tuple[str, bytes]] | None, name: str) -> str | None:
    """A header decoded as text, or None."""
    for key, value in headers or ():
        if key == name and value is not None:
            return value.decode("utf-8", "replace")
    return None
