"""The topic catalogue (names, partition counts, dead-letter topics) and `ensure`, which creates them.

Run `python -m platform_common.topics ensure` with TOPICS_KAFKA__BOOTSTRAP_SERVERS set.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from pydantic_settings import SettingsConfigDict

from platform_common.settings import (
    ConfigurationError,
    KafkaSettings,
    ServiceSettings,
    exit_with,
    load_settings,
)

log = logging.getLogger(__name__)

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    purpose: str

    @property
    def dlq(self) -> str:
        return self.name + DLQ_SUFFIX


# shard.requested is the matcher's scaled input: keep partitions >= max replicas + surge.
CATALOGUE: tuple[Topic, ...] = (
    Topic("file.uploaded", 6, "a raw file is stored (upload or external drop-off); files ingests it"),
    Topic("file.ingested", 6, "a dataset version was committed or a file rejected; projects tracks it"),
    Topic("job.started", 6, "a job was requested; the matcher plans shards, results opens the job"),
    Topic("shard.requested", 12, "one shard of a job; matcher replicas share these"),
    Topic("match.batch", 12, "bounded, sequenced slices of a shard's matches; results stores them"),
    Topic("job.progress", 6, "planning and shard progress for live job status"),
    Topic("job.completed", 6, "a job finished; projects and webhooks react"),
)
DLQ_PARTITIONS = 3


def dlq_name(topic: str) -> str:
    """The dead-letter topic paired with `topic`."""
    return topic + DLQ_SUFFIX


def all_topic_specs() -> list[tuple[str, int]]:
    """Every topic to create, with its partition count, dead-letter topics included."""
    specs = [(t.name, t.partitions) for t in CATALOGUE]
    specs += [(t.dlq, DLQ_PARTITIONS) for t in CATALOGUE]
    return specs


async def ensure_topics(kafka: KafkaSettings, *, replication_factor: int = 1) -> list[str]:
    """Create missing catalogue topics; return the names created. Existing topics are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers,
                                request_timeout_ms=int(kafka.request_timeout_s * 1000))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=partitions, replication_factor=replication_factor)
            for name, partitions in all_topic_specs()
            if name not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                log.info("topics created concurrently by another process")
        return [t.name for t in missing]
    finally:
        await admin.close()


class TopicsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TOPICS_", env_nested_delimiter="__", extra="ignore")

    kafka: KafkaSettings
    replication_factor: int = 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m platform_common.topics")
    parser.add_argument("command", choices=["ensure", "list"])
    args = parser.parse_args(argv)
    if args.command == "list":
        for name, partitions in all_topic_specs():
            print(f"{name}\t{partitions}")
        return
    try:
        settings = load_settings(TopicsSettings)
    except ConfigurationError as error:
        exit_with(str(error))
    created = asyncio.run(ensure_topics(settings.kafka, replication_factor=settings.replication_factor))
    print(f"topics ready ({len(created)} created: {', '.join(created) or 'none'})")


if __name__ == "__main__":
    main()
