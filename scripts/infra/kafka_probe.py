"""Readiness probe and smoke check for the local Kafka broker (used by scripts/infra/*.sh).

`wait` polls cluster metadata until a broker answers; `roundtrip` proves the broker does real work
for our client library: it creates a throwaway topic, produces (idempotent and transactional),
consumes through a classic consumer group, and deletes the topic again.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

PLAIN_MESSAGES = 20
TRANSACTIONAL_MESSAGES = 5


class BrokerExitedError(RuntimeError):
    pass


async def broker_count(bootstrap: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
        return len(cluster.get("brokers", []))
    finally:
        await admin.close()


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A dead child not yet reaped by its parent still answers kill(0) as a zombie.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


async def wait_until_ready(bootstrap: str, timeout_s: float, broker_pid: int | None) -> None:
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        # Fail fast when the broker died during start-up instead of polling a corpse until timeout.
        if broker_pid is not None and not process_alive(broker_pid):
            raise BrokerExitedError(f"Kafka process {broker_pid} exited during start-up")
        try:
            # A per-attempt cap: a half-started broker can accept a connection and then stall.
            if await asyncio.wait_for(broker_count(bootstrap), timeout=10) > 0:
                return
        except Exception as error:  # any failure just means "not ready yet"
            last_error = error
        await asyncio.sleep(1.0)
    raise TimeoutError(f"Kafka at {bootstrap} not ready after {timeout_s:.0f}s: {last_error!r}")


async def produce_plain(bootstrap: str, topic: str) -> set[bytes]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        payloads = {f"plain-{i}".encode() for i in range(PLAIN_MESSAGES)}
        for payload in payloads:
            await producer.send_and_wait(topic, payload, key=payload)
        return payloads
    finally:
        await producer.stop()


async def produce_transactional(bootstrap: str, topic: str) -> set[bytes]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"infra-probe-{uuid.uuid4().hex[:8]}")
    await producer.start()
    try:
        payloads = {f"txn-{i}".encode() for i in range(TRANSACTIONAL_MESSAGES)}
        async with producer.transaction():
            for payload in payloads:
                await producer.send(topic, payload, key=payload)
        return payloads
    finally:
        await producer.stop()


async def consume_exactly(bootstrap: str, topic: str, expected: set[bytes]) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"infra-probe-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        seen: set[bytes] = set()
        deadline = time.monotonic() + 60
        while seen != expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                seen.update(record.value for record in records if record.value is not None)
        await consumer.commit()
        if seen != expected:
            missing = sorted(expected - seen)
            raise AssertionError(f"consumed {len(seen)}/{len(expected)}; missing {missing[:5]}")
    finally:
        await consumer.stop()


async def roundtrip(bootstrap: str) -> None:
    topic = f"infra-probe-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        started = time.monotonic()
        expected = await produce_plain(bootstrap, topic)
        expected |= await produce_transactional(bootstrap, topic)
        await consume_exactly(bootstrap, topic, expected)
        elapsed = time.monotonic() - started
        print(f"roundtrip ok: topic={topic} messages={len(expected)} in {elapsed:.1f}s")
    finally:
        await admin.delete_topics([topic])
        await admin.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["wait", "roundtrip"])
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--pid", type=int, default=None, help="broker pid to watch while waiting")
    args = parser.parse_args(argv)
    # While the broker starts, aiokafka logs every refused connection; the probe reports the outcome.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        if args.command == "wait":
            asyncio.run(wait_until_ready(args.bootstrap, args.timeout, args.pid))
            print(f"kafka ready at {args.bootstrap}")
        else:
            asyncio.run(roundtrip(args.bootstrap))
    except (TimeoutError, AssertionError, BrokerExitedError) as error:
        print(f"kafka probe failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
