"""Publishing typed events: idempotent producer, explicit keys, trace headers, awaited delivery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from opentelemetry.trace import SpanKind, Status, StatusCode

from platform_common.errors import DependencyUnavailable
from platform_common.events import Envelope, Event, encode, wrap
from platform_common.health import health_of
from platform_common.kafka.tracing import KafkaHeaders, inject_headers
from platform_common.metrics import KAFKA_PUBLISHED
from platform_common.settings import KafkaSettings
from platform_common.telemetry import tracer

_tracer = tracer(__name__)


class EventPublisher(Protocol):
    async def publish(self, event: Event, *, correlation_id: str | None = None,
                      envelope: Envelope | None = None) -> Envelope: ...


class KafkaEventPublisher:
    """Publishes envelopes with `"<topic> publish"` spans; delivery is awaited with a timeout."""

    def __init__(self, producer: AIOKafkaProducer, *, service: str, timeout_s: float) -> None:
        self._producer = producer
        self._service = service
        self._timeout_s = timeout_s

    @property
    def producer(self) -> AIOKafkaProducer:
        return self._producer

    async def publish(self, event: Event, *, correlation_id: str | None = None,
                      envelope: Envelope | None = None) -> Envelope:
        """Send one event (in a fresh envelope unless one is given) and wait until the broker has it."""
        envelope = envelope or wrap(event, producer=self._service, correlation_id=correlation_id)
        await self.send_raw(event.TOPIC, encode(envelope), key=event.partition_key(),
                            message_id=str(envelope.id))
        return envelope

    async def send_raw(self, topic: str, value: bytes | None, *, key: bytes | None,
                       headers: KafkaHeaders | None = None, message_id: str | None = None) -> None:
        """Send bytes as they are (dead-lettering, relays), still traced and awaited."""
        with _tracer.start_as_current_span(f"{topic} publish", kind=SpanKind.PRODUCER) as span:
            span.set_attribute("messaging.system", "kafka")
            span.set_attribute("messaging.operation.type", "send")
            span.set_attribute("messaging.destination.name", topic)
            if message_id:
                span.set_attribute("messaging.message.id", message_id)
            try:
                async with asyncio.timeout(self._timeout_s):
                    metadata = await self._producer.send_and_wait(
                        topic, value=value, key=key, headers=inject_headers(headers)
                    )
            except (KafkaError, TimeoutError) as error:
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                raise DependencyUnavailable(f"Kafka did not accept the message for {topic}: {error!r}",
                                            code="kafka_publish_failed") from error
            span.set_attribute("messaging.destination.partition.id", str(metadata.partition))
            KAFKA_PUBLISHED.labels(self._service, topic).inc()


def build_producer(kafka: KafkaSettings, *, client_id: str) -> AIOKafkaProducer:
    """An idempotent producer (acks=all) so retries never duplicate or reorder within a partition."""
    return AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers,
        client_id=kafka.client_id or client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        request_timeout_ms=int(kafka.request_timeout_s * 1000),
    )


async def start_kafka_client(start: Callable[[], object], kafka: KafkaSettings, setting_name: str) -> None:
    """Start a Kafka client or fail with one line naming the setting that points at the broker."""
    from platform_common.settings import ConfigurationError

    try:
        async with asyncio.timeout(kafka.start_timeout_s):
            await start()  # type: ignore[misc]
    except (KafkaError, TimeoutError, OSError) as error:
        raise ConfigurationError(
            f"startup error: Kafka unreachable at {setting_name}={kafka.bootstrap_servers} ({type(error).__name__})"
        ) from None


def producer_ctx(kafka: KafkaSettings, *, service: str, setting_name: str,
                 key: web.AppKey[KafkaEventPublisher]) -> Callable[[web.Application], AsyncIterator[None]]:
    """Cleanup context: start the producer, expose a publisher under `key`, flush and stop on exit."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        producer = build_producer(kafka, client_id=service)
        try:
            await start_kafka_client(producer.start, kafka, setting_name)
        except BaseException:
            await producer.stop()
            raise
        app[key] = KafkaEventPublisher(producer, service=service, timeout_s=kafka.publish_timeout_s)

        async def ready() -> None:
            # ready() (re)connects to a known broker: cheap, and true only while the cluster answers.
            if not await producer.client.ready(producer.client.get_random_node()):
                raise ConnectionError("no Kafka broker reachable")

        health_of(app).add_readiness("kafka", ready)
        try:
            yield
        finally:
            health_of(app).remove("kafka")
            await producer.stop()

    return context
