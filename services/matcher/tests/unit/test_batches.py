"""A shard's output is cut into match.batch events by item count and by the bytes of its items' JSON, in
order, the last one marked; an item bigger than the byte budget goes alone."""

from __future__ import annotations

import uuid

from matcher.service_layer.planning import MAX_BATCH_ITEM_BYTES, batches
from platform_common.events import MatchBatchProduced, MatchItem, ShardRequested, UnmatchedItem

SHARD = ShardRequested(job_id=uuid.uuid4(), project_id=uuid.uuid4(), shard_no=3, shard_count=4,
                       left_dataset_id=uuid.uuid4(), right_dataset_id=uuid.uuid4(), rule_set={})


def match_item(n: int, explanation_bytes: int = 0) -> MatchItem:
    return MatchItem(left_ids=[f"L{n}"], right_ids=[f"R{n}"], score=0.9, status="auto", pass_name="exact",
                     explanation={"note": "x" * explanation_bytes})


def unmatched_item(n: int, explanation_bytes: int = 0) -> UnmatchedItem:
    return UnmatchedItem(side="left", record_id=f"U{n}", explanation={"note": "x" * explanation_bytes})


def ids(batch: MatchBatchProduced) -> list[str]:
    return [m.left_ids[0] for m in batch.matches] + [u.record_id for u in batch.unmatched]


def item_bytes(batch: MatchBatchProduced) -> int:
    return sum(len(i.model_dump_json().encode()) for i in [*batch.matches, *batch.unmatched])


def assert_sequenced(cut: list[MatchBatchProduced]) -> None:
    assert [b.batch_seq for b in cut] == list(range(len(cut)))
    assert [b.is_last for b in cut] == [False] * (len(cut) - 1) + [True]
    assert {(b.job_id, b.shard_no, b.shard_count) for b in cut} == {(SHARD.job_id, 3, 4)}


def test_items_with_long_explanations_are_cut_by_bytes_before_the_item_count() -> None:
    # Three of these pass the budget, two do not.
    matches = [match_item(n, explanation_bytes=MAX_BATCH_ITEM_BYTES // 3) for n in range(4)]
    unmatched = [unmatched_item(n, explanation_bytes=MAX_BATCH_ITEM_BYTES // 3) for n in range(3)]

    cut = list(batches(SHARD, matches, unmatched, max_items=500))

    assert [ids(b) for b in cut] == [["L0", "L1"], ["L2", "L3"], ["U0", "U1"], ["U2"]]
    assert_sequenced(cut)
    assert all(item_bytes(b) <= MAX_BATCH_ITEM_BYTES for b in cut)


def test_small_items_are_still_cut_by_the_item_count() -> None:
    matches = [match_item(n) for n in range(5)]
    unmatched = [unmatched_item(n) for n in range(2)]

    cut = list(batches(SHARD, matches, unmatched, max_items=3))

    assert [ids(b) for b in cut] == [["L0", "L1", "L2"], ["L3", "L4", "U0"], ["U1"]]
    assert [len(b.matches) for b in cut] == [3, 2, 0]
    assert_sequenced(cut)


def test_an_item_bigger_than_the_budget_goes_alone_and_the_order_holds() -> None:
    matches = [match_item(0), match_item(1, explanation_bytes=MAX_BATCH_ITEM_BYTES + 1), match_item(2)]
    unmatched = [unmatched_item(0)]

    cut = list(batches(SHARD, matches, unmatched, max_items=500))

    assert [ids(b) for b in cut] == [["L0"], ["L1"], ["L2", "U0"]]
    assert item_bytes(cut[1]) > MAX_BATCH_ITEM_BYTES
    assert_sequenced(cut)


def test_the_cut_is_the_same_on_every_run() -> None:
    matches = [match_item(n, explanation_bytes=(n * 7919) % (MAX_BATCH_ITEM_BYTES // 2)) for n in range(40)]

    first = list(batches(SHARD, matches, [], max_items=10))
    again = list(batches(SHARD, [m.model_copy() for m in matches], [], max_items=10))

    assert first == again
    assert [m for b in first for m in b.matches] == matches
    assert all(len(b.matches) <= 10 and item_bytes(b) <= MAX_BATCH_ITEM_BYTES for b in first)


def test_a_shard_without_output_still_closes_with_one_empty_last_batch() -> None:
    cut = list(batches(SHARD, [], [], max_items=500))

    assert [(b.batch_seq, b.is_last, b.matches, b.unmatched) for b in cut] == [(0, True, [], [])]
