"""A consumer-group member in its own process, so a test can SIGKILL it mid-batch.

Usage: python consumer_worker.py BOOTSTRAP DSN SCHEMA TOPIC GROUP DELAY_S
Each handled event inserts one row into SCHEMA.effects inside the inbox transaction.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import asyncpg

from platform_common.idempotency import handle_once
from platform_common.kafka.consumer import ConsumerRunner
from platform_common.kafka.producer import KafkaEventPublisher, build_producer
from platform_common.settings import KafkaSettings
from platform_common.testing import ProbeEvent


async def main(bootstrap: str, dsn: str, schema: str, topic: str, group: str, delay_s: float) -> None:
    kafka = KafkaSettings(bootstrap_servers=bootstrap, session_timeout_ms=6000, heartbeat_interval_ms=1000,
                          max_poll_records=20)
    pool = await asyncpg.create_pool(dsn, server_settings={"search_path": schema}, min_size=1, max_size=4)
    producer = build_producer(kafka, client_id="worker")
    await producer.start()
    publisher = KafkaEventPublisher(producer, service="worker", timeout_s=10)

    async def handle(message, record):  # type: ignore[no-untyped-def]
        event = message.event
        assert isinstance(event, ProbeEvent)

        async def effect(conn: asyncpg.Connection) -> None:
            await asyncio.sleep(delay_s)
            await conn.execute("INSERT INTO effects (seq, partition, worker) VALUES ($1, $2, $3)",
                               event.seq, record.partition, group + ":" + sys.argv[-1])

        return await handle_once(pool, consumer=group, event_id=message.envelope.id, work=effect)

    runner = ConsumerRunner(kafka=kafka, topics=[topic], group_id=group, handler=handle, dead_letters=publisher,
                            service="worker")
    await runner.start()
    print("started", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.stop()
    await producer.stop()
    await pool.close()
    print("stopped", flush=True)


if __name__ == "__main__":
    bootstrap, dsn, schema, topic, group, delay, _name = sys.argv[1:8]
    asyncio.run(main(bootstrap, dsn, schema, topic, group, float(delay)))
