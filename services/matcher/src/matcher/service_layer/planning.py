"""Planning a job into shards and emitting a shard's output as bounded, sequenced batches."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence

from platform_common.events import (
    JobProgressed,
    JobStarted,
    MatchBatchProduced,
    MatchItem,
    ShardRequested,
    UnmatchedItem,
)

# Event ids derive from (job, shard, sequence), so a redelivered job or shard republishes the same ids
# and downstream inboxes drop the copies.
_NAMESPACE = uuid.UUID("6f1c1a52-2d0e-4e57-9b55-0d6c7c1e9a10")


def event_id(*parts: object) -> uuid.UUID:
    """A deterministic event id for the given identity parts."""
    return uuid.uuid5(_NAMESPACE, "/".join(str(p) for p in parts))


def shard_requests(job: JobStarted, shard_count: int, max_matches_per_batch: int) -> list[ShardRequested]:
    return [
        ShardRequested(
            job_id=job.job_id,
            project_id=job.project_id,
            shard_no=n,
            shard_count=shard_count,
            left_dataset_id=job.left_dataset_id,
            right_dataset_id=job.right_dataset_id,
            rule_set=job.rule_set,
            max_matches_per_batch=max_matches_per_batch,
        )
        for n in range(shard_count)
    ]


def planned(job: JobStarted, shard_count: int) -> JobProgressed:
    return JobProgressed(job_id=job.job_id, stage="planned", shard_count=shard_count)


# The JSON a batch's items may add up to, half of Kafka's default 1 MiB message limit: with long explanations
# 500 items measured about 1 MB, and a batch over the limit could never be published. A constant, never a
# setting: the cut decides every batch's sequence number (and so its event id), so every replica and every
# redelivery must cut a shard's output in the same places.
MAX_BATCH_ITEM_BYTES = 512 * 1024


def batches(
    shard: ShardRequested, matches: Sequence[MatchItem], unmatched: Sequence[UnmatchedItem], *, max_items: int
) -> Iterator[MatchBatchProduced]:
    """Split a shard's output, in order, into batches of at most `max_items` items whose JSON adds up to at
    most MAX_BATCH_ITEM_BYTES (an item bigger than that goes alone); the last batch says so."""
    items: list[MatchItem | UnmatchedItem] = [*matches, *unmatched]
    chunks = _chunks(items, max_items=max_items, max_bytes=MAX_BATCH_ITEM_BYTES)
    for seq, chunk in enumerate(chunks):
        yield MatchBatchProduced(
            job_id=shard.job_id,
            project_id=shard.project_id,
            shard_no=shard.shard_no,
            shard_count=shard.shard_count,
            batch_seq=seq,
            is_last=seq == len(chunks) - 1,
            matches=[i for i in chunk if isinstance(i, MatchItem)],
            unmatched=[i for i in chunk if isinstance(i, UnmatchedItem)],
        )


def _chunks(
    items: list[MatchItem | UnmatchedItem], *, max_items: int, max_bytes: int
) -> list[list[MatchItem | UnmatchedItem]]:
    chunks: list[list[MatchItem | UnmatchedItem]] = [[]]
    chunk_bytes = 0
    for item in items:
        # The item's own JSON: the same bytes on every replica, whatever the envelope around it.
        item_bytes = len(item.model_dump_json().encode())
        current = chunks[-1]
        if current and (len(current) >= max_items or chunk_bytes + item_bytes > max_bytes):
            current = []
            chunks.append(current)
            chunk_bytes = 0
        current.append(item)
        chunk_bytes += item_bytes
    return chunks
