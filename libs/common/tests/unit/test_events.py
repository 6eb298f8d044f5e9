from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from platform_common.errors import PermanentError
from platform_common.events import (
    FileUploaded,
    JobStarted,
    MatchBatchProduced,
    MatchItem,
    decode,
    encode,
    registered_events,
    wrap,
)
from platform_common.topics import CATALOGUE, all_topic_specs


def job_started() -> JobStarted:
    return JobStarted(job_id=uuid.uuid4(), project_id=uuid.uuid4(), left_dataset_id=uuid.uuid4(),
                      right_dataset_id=uuid.uuid4(), rule_set={"passes": []})


def test_round_trip_keeps_envelope_and_typed_data() -> None:
    event = job_started()
    envelope = wrap(event, producer="projects", correlation_id=str(event.job_id))
    decoded = decode(encode(envelope))
    assert decoded.envelope == envelope
    assert decoded.event == event
    assert event.partition_key() == str(event.job_id).encode()


def test_reader_tolerates_unknown_fields_from_newer_producers() -> None:
    envelope = wrap(job_started(), producer="projects")
    payload = json.loads(encode(envelope))
    payload["added_later"] = True
    payload["data"]["new_field"] = {"nested": 1}
    decoded = decode(json.dumps(payload).encode())
    assert isinstance(decoded.event, JobStarted)


@pytest.mark.parametrize(("raw", "code"), [
    (None, "message_empty"),
    (b"\xff\xfe", "message_not_json"),
    (b"[1, 2", "message_not_json"),
    (b'{"type": "job.started"}', "envelope_invalid"),
])
def test_unreadable_messages_are_permanent_errors(raw: bytes | None, code: str) -> None:
    with pytest.raises(PermanentError) as caught:
        decode(raw)
    assert caught.value.code == code


def test_unknown_type_and_bad_data_are_permanent_errors() -> None:
    envelope = wrap(job_started(), producer="projects")
    unknown = json.loads(encode(envelope)) | {"type": "job.exploded"}
    with pytest.raises(PermanentError) as caught:
        decode(json.dumps(unknown).encode())
    assert caught.value.code == "event_type_unknown"
    bad = json.loads(encode(envelope))
    bad["data"]["job_id"] = "not-a-uuid"
    with pytest.raises(PermanentError) as caught:
        decode(json.dumps(bad).encode())
    assert caught.value.code == "event_data_invalid"
    assert "job_id" in caught.value.detail


def test_version_one_fixtures_still_decode() -> None:
    """A contract fixture as the first producers wrote it: it must decode for as long as v1 is supported."""
    fixture = {
        "id": "0f8fad5b-d9cb-469f-a165-70867728950e", "type": "file.uploaded", "version": 1,
        "occurred_at": "2026-11-01T10:00:00+00:00", "producer": "files", "correlation_id": None,
        "data": {"file_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "project_id": "16fd2706-8baf-433b-82eb-8c7fada847da",
                 "data_source_id": "886313e1-3b8a-5372-9b90-0c9aee199e5d", "object_uri": "file:///x/y.csv",
                 "filename": "bank.csv"},
    }
    event = decode(json.dumps(fixture).encode()).event
    assert isinstance(event, FileUploaded)
    assert event.origin == "upload" and event.on_error == "reject"


def test_every_registered_event_has_a_catalogued_topic() -> None:
    topics = {t.name for t in CATALOGUE}
    for (event_type, _version), cls in registered_events().items():
        if event_type.startswith("test."):
            continue
        assert cls.TOPIC in topics, cls
    names = [name for name, _ in all_topic_specs()]
    assert len(names) == len(set(names)) == 2 * len(CATALOGUE)
    assert dict(all_topic_specs())["shard.requested"] >= 12


@given(score=st.floats(min_value=0, max_value=1), seq=st.integers(min_value=0, max_value=10_000))
def test_match_batches_round_trip(score: float, seq: int) -> None:
    batch = MatchBatchProduced(job_id=uuid.uuid4(), project_id=uuid.uuid4(), shard_no=0, shard_count=1,
                               batch_seq=seq, is_last=True,
                               matches=[MatchItem(left_ids=["l1"], right_ids=["r1", "r2"], score=score,
                                                  status="auto", pass_name="exact")])
    assert decode(encode(wrap(batch, producer="matcher"))).event == batch


def test_checked_in_asyncapi_document_is_current() -> None:
    from pathlib import Path

    from platform_common.asyncapi import render

    checked_in = Path(__file__).resolve().parents[4] / "docs" / "asyncapi.json"
    assert checked_in.read_text() == render(), "regenerate: python -m platform_common.asyncapi > docs/asyncapi.json"
