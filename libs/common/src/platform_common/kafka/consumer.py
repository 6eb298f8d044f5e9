"""The one way services consume: manual commits after handling, bounded retries, seek-back, dead letters.

Delivery is at least once; handlers make effects exactly-once with the inbox (platform_common.idempotency).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime

import asyncpg
import redis.exceptions
from aiohttp import web
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from platform_common.errors import DomainError, PermanentError, TransientError
from platform_common.events import DecodedMessage, decode
from platform_common.health import health_of
from platform_common.kafka.producer import KafkaEventPublisher, start_kafka_client
from platform_common.kafka.rebalance import CommittingRebalanceListener
from platform_common.kafka.tracing import KafkaHeaders, extract_context
from platform_common.metrics import KAFKA_DLQ, KAFKA_LAG, KAFKA_PROCESS_DURATION, KAFKA_PROCESSED
from platform_common.settings import KafkaSettings
from platform_common.telemetry import tracer
from platform_common.topics import dlq_name

log = logging.getLogger(__name__)
_tracer = tracer(__name__)

# A handler returns False when the inbox says the event was already handled (counted as a duplicate).
MessageHandler = Callable[[DecodedMessage, ConsumerRecord[bytes, bytes]], Awaitable[bool | None]]

_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    TransientError,
    OSError,
    TimeoutError,
    KafkaError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def is_transient(error: BaseException) -> bool:
    """Errors worth retrying: infrastructure that may come back, or domain errors marked retryable."""
    if isinstance(error, DomainError):
        return error.retryable
    return isinstance(error, _TRANSIENT_TYPES)


class ConsumerRunner:
    """Consumes `topics` in `group_id`, handling each record before its offset is committed."""

    def __init__(self, *, kafka: KafkaSettings, topics: Sequence[str], group_id: str, handler: MessageHandler,
                 dead_letters: KafkaEventPublisher, service: str, setting_name: str = "KAFKA__BOOTSTRAP_SERVERS",
                 drain_timeout_s: float = 10.0, pause_after_failure_s: float = 5.0) -> None:
        self._kafka = kafka
        self._topics = list(topics)
        self.group_id = group_id
        self._handler = handler
        self._dead_letters = dead_letters
        self._service = service
        self._setting_name = setting_name
        self._drain_timeout_s = drain_timeout_s
        self._pause_after_failure_s = pause_after_failure_s
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._done: dict[TopicPartition, int] = {}  # next offset to commit, per partition
        self._paused_until: dict[TopicPartition, float] = {}
        self.last_loop_at = time.monotonic()
        self._handling_since: float | None = None
        # Well inside max_poll_interval_ms, so a long handler never costs the membership.
        self._keepalive_s = min(1.0, kafka.max_poll_interval_ms / 4000)
        self.started = False

    @property
    def consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("consumer not started")
        return self._consumer

    async def start(self) -> None:
        """Join the group and start the poll loop in a task owned by this runner."""
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._kafka.bootstrap_servers,
            group_id=self.group_id,
            client_id=f"{self._service}-{self.group_id}",
            enable_auto_commit=False,
            # A new group must see events published before it first joined (e.g. during a deploy).
            auto_offset_reset="earliest",
            session_timeout_ms=self._kafka.session_timeout_ms,
            heartbeat_interval_ms=self._kafka.heartbeat_interval_ms,
            max_poll_interval_ms=self._kafka.max_poll_interval_ms,
            max_poll_records=self._kafka.max_poll_records,
            request_timeout_ms=int(self._kafka.request_timeout_s * 1000),
        )
        self._consumer.subscribe(self._topics, listener=CommittingRebalanceListener(self, service=self._service))
        try:
            await start_kafka_client(self._consumer.start, self._kafka, self._setting_name)
        except BaseException:
            await self._consumer.stop()
            raise
        self._task = asyncio.create_task(self._run(), name=f"consumer:{self.group_id}")
        self._task.add_done_callback(self._report_crash)
        self.started = True

    async def stop(self) -> None:
        """Stop fetching, let the record in hand finish (bounded), commit, and leave the group."""
        self._stopping.set()
        if self._task is not None:
            try:
                async with asyncio.timeout(self._drain_timeout_s):
                    await asyncio.shield(self._task)
            except TimeoutError:
                log.warning("consumer drain timed out; the record in hand will be redelivered")
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self.commit_done()
            await self._consumer.stop()
        self.started = False

    def _report_crash(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            # Liveness turns false with this, so the orchestrator restarts the process.
            log.error("consumer loop of %s stopped", self.group_id, exc_info=task.exception())

    def is_alive(self, max_stall_s: float) -> bool:
        """False when the poll loop died, has not come round for `max_stall_s`, or one record's handling has
        run past `max_handling_s` (a hung handler: the loop keeps polling for it, so only this shows it)."""
        if self._task is not None and self._task.done():
            return False
        now = time.monotonic()
        if self._handling_since is not None and now - self._handling_since > self._kafka.max_handling_s:
            return False
        return now - self.last_loop_at < max_stall_s

    async def commit_done(self, partitions: Sequence[TopicPartition] | None = None) -> None:
        """Commit the offsets of handled records (all, or only those of `partitions`)."""
        if self._consumer is None:
            return
        wanted = set(partitions) if partitions is not None else None
        offsets = {tp: off for tp, off in self._done.items() if wanted is None or tp in wanted}
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as error:
            # The group moved on; those records will be redelivered to their new owner and deduplicated.
            log.warning("offset commit refused after rebalance: %s", error)
        for tp, offset in offsets.items():
            if self._done.get(tp) == offset:
                del self._done[tp]

    def forget(self, partitions: Sequence[TopicPartition]) -> None:
        """Drop local state of partitions this member no longer owns."""
        for tp in partitions:
            self._done.pop(tp, None)
            self._paused_until.pop(tp, None)
            with contextlib.suppress(KeyError):
                KAFKA_LAG.remove(self._service, tp.topic, str(tp.partition))

    async def _run(self) -> None:
        consumer = self.consumer
        while not self._stopping.is_set():
            self.last_loop_at = time.monotonic()
            self._resume_due_partitions()
            batches = await consumer.getmany(timeout_ms=500, max_records=self._kafka.max_poll_records)
            for tp, records in batches.items():
                for record in records:
                    if self._stopping.is_set() or tp not in consumer.assignment():
                        break
                    handled = await self._polling_while(self._process(record))
                    if tp not in consumer.assignment():
                        break  # revoked meanwhile: the new owner redelivers, the inbox deduplicates
                    if not handled:
                        consumer.seek(tp, record.offset)
                        consumer.pause(tp)
                        self._paused_until[tp] = time.monotonic() + self._pause_after_failure_s
                        break
                    self._done[tp] = record.offset + 1
                    self._record_lag(tp, record.offset + 1)
                await self.commit_done([tp])

    async def _polling_while(self, handling: Awaitable[bool]) -> bool:
        """Handle one record while the poll loop keeps coming round, every partition paused.

        aiokafka leaves the group when `getmany` is not called for `max_poll_interval_ms`; a handler that
        outlasts it (a big matcher shard) would lose its partition mid-work, fail to commit, and see the
        record redelivered, over and over. Paused partitions return nothing, so the polls only keep the
        membership.
        """
        consumer = self.consumer
        task = asyncio.ensure_future(handling)
        self._handling_since = time.monotonic()
        paused_here: set[TopicPartition] = set()
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self._keepalive_s)
                if done:
                    return task.result()
                self.last_loop_at = time.monotonic()
                idle = consumer.assignment() - consumer.paused()
                consumer.pause(*idle)
                paused_here |= idle
                for tp, records in (await consumer.getmany(timeout_ms=0)).items():
                    # Assigned after the pause above (a rebalance): leave them for the loop to fetch again.
                    consumer.seek(tp, records[0].offset)
        finally:
            self._handling_since = None
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            consumer.resume(*(paused_here & consumer.assignment()))

    def _resume_due_partitions(self) -> None:
        now = time.monotonic()
        for tp, until in list(self._paused_until.items()):
            if until <= now:
                del self._paused_until[tp]
                if tp in self.consumer.assignment():
                    self.consumer.resume(tp)

    def _record_lag(self, tp: TopicPartition, next_offset: int) -> None:
        highwater = self.consumer.highwater(tp)
        if highwater is not None:
            KAFKA_LAG.labels(self._service, tp.topic, str(tp.partition)).set(max(0, highwater - next_offset))

    async def _process(self, record: ConsumerRecord[bytes, bytes]) -> bool:
        """Handle one record; True means it may be committed (handled, duplicate or dead-lettered)."""
        started = time.perf_counter()
        parent = extract_context(record.headers)
        with _tracer.start_as_current_span(f"{record.topic} process", context=parent,
                                           kind=SpanKind.CONSUMER) as span:
            span.set_attribute("messaging.system", "kafka")
            span.set_attribute("messaging.operation.type", "process")
            span.set_attribute("messaging.destination.name", record.topic)
            span.set_attribute("messaging.consumer.group.name", self.group_id)
            span.set_attribute("messaging.destination.partition.id", str(record.partition))
            span.set_attribute("messaging.kafka.offset", record.offset)
            try:
                return await self._handle_with_retries(record, span)
            finally:
                KAFKA_PROCESS_DURATION.labels(self._service, record.topic).observe(time.perf_counter() - started)

    async def _handle_with_retries(self, record: ConsumerRecord[bytes, bytes], span: Span) -> bool:
        try:
            message = decode(record.value)
        except PermanentError as error:
            return await self._dead_letter(record, error, attempts=1, span=span)
        span.set_attribute("messaging.message.id", str(message.envelope.id))
        attempt = 0
        while True:
            attempt += 1
            try:
                fresh = await self._handler(message, record)
            except Exception as error:
                transient = is_transient(error)
                if isinstance(error, DomainError) and not transient:
                    return await self._dead_letter(record, error, attempts=attempt, span=span)
                if attempt >= self._kafka.max_attempts:
                    if transient:
                        log.warning("giving up for now on %s@%s after %d attempts: %r; will redeliver",
                                    record.topic, record.offset, attempt, error)
                        span.set_status(Status(StatusCode.ERROR, "retries exhausted"))
                        return False
                    log.exception("handler failed %d times; dead-lettering", attempt)
                    return await self._dead_letter(record, error, attempts=attempt, span=span)
                KAFKA_PROCESSED.labels(self._service, record.topic, "retried").inc()
                delay = min(self._kafka.retry_backoff_max_s, self._kafka.retry_backoff_base_s * 2 ** (attempt - 1))
                if await self._sleep_or_stop(delay * random.uniform(0.5, 1.0)):
                    return False
                continue
            outcome = "duplicate" if fresh is False else "success"
            KAFKA_PROCESSED.labels(self._service, record.topic, outcome).inc()
            return True

    async def _sleep_or_stop(self, delay: float) -> bool:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=delay)
        except TimeoutError:
            return False
        return True

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], error: BaseException, *,
                           attempts: int, span: Span) -> bool:
        code = error.code if isinstance(error, DomainError) else "unhandled_error"
        headers: KafkaHeaders = [(k, v) for k, v in (record.headers or ()) if not k.startswith("x-")]
        headers += [
            ("x-error-type", type(error).__name__.encode()),
            ("x-error-code", code.encode()),
            ("x-error-message", str(error)[:2000].encode()),
            ("x-original-topic", record.topic.encode()),
            ("x-original-partition", str(record.partition).encode()),
            ("x-original-offset", str(record.offset).encode()),
            ("x-attempts", str(attempts).encode()),
            ("x-consumer-group", self.group_id.encode()),
            ("x-failed-at", datetime.now(UTC).isoformat().encode()),
        ]
        try:
            await self._dead_letters.send_raw(dlq_name(record.topic), record.value, key=record.key,
                                              headers=headers)
        except DomainError:
            log.exception("dead-letter publish failed; the record will be redelivered")
            return False
        span.set_status(Status(StatusCode.ERROR, code))
        span.set_attribute("error.type", code)
        log.warning("dead-lettered %s@%d/%d: %s", record.topic, record.partition, record.offset, error,
                    extra={"ctx_error_code": code})
        KAFKA_DLQ.labels(self._service, record.topic).inc()
        KAFKA_PROCESSED.labels(self._service, record.topic, "dead_lettered").inc()
        return True


def consumer_ctx(*, kafka: KafkaSettings, topics: Sequence[str], group_id: str, service: str,
                 setting_name: str, publisher_key: web.AppKey[KafkaEventPublisher],
                 handler_factory: Callable[[web.Application], MessageHandler],
                 runner_key: web.AppKey[ConsumerRunner] | None = None,
                 drain_timeout_s: float = 10.0) -> Callable[[web.Application], AsyncIterator[None]]:
    """Cleanup context for a consumer; register it last so it stops first and drains before the producer."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        runner = ConsumerRunner(kafka=kafka, topics=topics, group_id=group_id, handler=handler_factory(app),
                                dead_letters=app[publisher_key], service=service, setting_name=setting_name,
                                drain_timeout_s=drain_timeout_s)
        await runner.start()
        if runner_key is not None:
            app[runner_key] = runner
        check_name = f"consumer:{group_id}"
        health_of(app).add_liveness(check_name, lambda: runner.is_alive(kafka.max_poll_interval_ms / 1000))
        try:
            yield
        finally:
            health_of(app).remove(check_name)
            await runner.stop()

    return context
