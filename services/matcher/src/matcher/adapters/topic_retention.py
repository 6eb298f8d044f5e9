"""How long the broker keeps the events whose redelivery needs the matcher's bookkeeping."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from platform_common.errors import TransientError
from platform_common.settings import KafkaSettings

_RETENTION_MS = "retention.ms"


async def topic_retention(kafka: KafkaSettings, topics: Sequence[str]) -> dict[str, timedelta | None]:
    """Each topic's `retention.ms` as the broker applies it (its own setting or the broker's default);
    None for a topic that keeps its events forever (-1)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers,
                                request_timeout_ms=int(kafka.request_timeout_s * 1000))
    await admin.start()
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, configs={_RETENTION_MS: None}) for topic in topics])
    finally:
        await admin.close()
    found: dict[str, timedelta | None] = {}
    for response in responses:
        for error_code, error_message, _type, name, entries, *_ in response.resources:
            if error_code:
                raise TransientError(f"describing topic {name} failed: {error_message or error_code}",
                                     code="topic_config_unavailable")
            for entry in entries:
                if entry[0] == _RETENTION_MS:
                    milliseconds = int(entry[1])
                    found[name] = None if milliseconds < 0 else timedelta(milliseconds=milliseconds)
    missing = sorted(set(topics) - found.keys())
    if missing:
        raise TransientError(f"the broker did not report retention.ms of {', '.join(missing)}",
                             code="topic_config_unavailable")
    return found
