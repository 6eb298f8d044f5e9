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


def batches(
    shard: ShardRequested, matches: Sequence[MatchItem], unmatched: Sequence[UnmatchedItem], *, max_items: int
) -> Iterator[MatchBatchProduced]:
    """Split a shard's output into batches of at most `max_items` items; the last one says so."""
    items: list[MatchItem | UnmatchedItem] = [*matches, *unmatched]
    chunks = [items[i : i + max_items] for i in range(0, len(items), max_items)] or [[]]
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
