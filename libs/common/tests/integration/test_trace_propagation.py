"""A trace begun by an HTTP request continues through Kafka headers into the consumer's process span."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry.trace import SpanKind

from platform_common.events import encode, wrap
from platform_common.http import create_base_app
from platform_common.kafka.consumer import ConsumerRunner
from platform_common.kafka.producer import KafkaEventPublisher, build_producer
from platform_common.settings import KafkaSettings
from platform_common.testing import ProbeEvent, create_topics, delete_topics

pytestmark = pytest.mark.integration


async def test_http_request_trace_continues_into_consumer_process_span(kafka_bootstrap, spans, unique) -> None:  # type: ignore[no-untyped-def]
    topic = f"it.trace.{unique}"
    await create_topics(kafka_bootstrap, topic, partitions=1)
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, session_timeout_ms=6000, heartbeat_interval_ms=1000)
    producer = build_producer(kafka, client_id="trace-test")
    await producer.start()
    publisher = KafkaEventPublisher(producer, service="trace-test", timeout_s=15)
    received = asyncio.Event()

    async def handle(message, record):  # type: ignore[no-untyped-def]
        received.set()

    runner = ConsumerRunner(kafka=kafka, topics=[topic], group_id=f"g-{unique}", handler=handle,
                            dead_letters=publisher, service="trace-test")

    async def publish_route(request: web.Request) -> web.Response:
        envelope = wrap(ProbeEvent(seq=1), producer="trace-test")
        await publisher.send_raw(topic, encode(envelope), key=b"1")
        return web.json_response({"published": str(envelope.id)}, status=202)

    app = create_base_app("trace-test")
    app.router.add_post("/publish", publish_route)
    await runner.start()
    try:
        async with TestClient(TestServer(app)) as client:
            response = await client.post("/publish")
            assert response.status == 202
        await asyncio.wait_for(received.wait(), timeout=60)
    finally:
        await runner.stop()
        await producer.stop()
        await delete_topics(kafka_bootstrap, topic)

    finished = spans.get_finished_spans()
    server = next(s for s in finished if s.kind == SpanKind.SERVER and s.name == "POST /publish")
    publish = next(s for s in finished if s.name == f"{topic} publish")
    process = next(s for s in finished if s.name == f"{topic} process")
    assert publish.context.trace_id == server.context.trace_id
    assert publish.parent is not None and publish.parent.span_id == server.context.span_id
    assert process.kind == SpanKind.CONSUMER
    assert process.context.trace_id == server.context.trace_id, "the consumer continues the HTTP trace"
    assert process.parent is not None and process.parent.span_id == publish.context.span_id
    assert process.attributes["messaging.destination.name"] == topic
    assert process.attributes["messaging.consumer.group.name"] == f"g-{unique}"
