"""Rebalance listener: commit what was handled before partitions move, track what is owned."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import TYPE_CHECKING

from aiokafka import TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

from platform_common.metrics import KAFKA_ASSIGNED

if TYPE_CHECKING:
    from platform_common.kafka.consumer import ConsumerRunner

log = logging.getLogger(__name__)


class CommittingRebalanceListener(ConsumerRebalanceListener):  # type: ignore[misc]
    # Never share a lock with the poll loop here: aiokafka calls this from inside the poll (deadlock).
    def __init__(self, runner: ConsumerRunner, *, service: str, commit_timeout_s: float = 10.0) -> None:
        self._runner = runner
        self._service = service
        self._commit_timeout_s = commit_timeout_s

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        if not revoked:
            return
        try:
            async with asyncio.timeout(self._commit_timeout_s):
                await self._runner.commit_done(revoked)
        except TimeoutError:
            log.warning("commit on revoke timed out; records since the last commit will be redelivered")
        self._runner.forget(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        per_topic = Counter(tp.topic for tp in assigned)
        for topic in self._runner.consumer.subscription():
            KAFKA_ASSIGNED.labels(self._service, topic).set(per_topic.get(topic, 0))
        log.info("partitions assigned: %s", sorted(f"{tp.topic}/{tp.partition}" for tp in assigned))
