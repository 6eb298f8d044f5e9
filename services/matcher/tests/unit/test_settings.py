"""The matcher's retention settings: read from MATCHER_RETENTION__*, 30 days by default, nonsense refused; the
period applied is raised past the retention of the topics whose redelivery needs the bookkeeping."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from matcher.config import MatcherSettings
from matcher.service_layer.retention import REDELIVERY_MARGIN, effective_retention


@pytest.fixture(autouse=True)
def required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCHER_KAFKA__BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("MATCHER_POSTGRES__DSN", "postgresql://matcher@db/recon")


def test_bookkeeping_is_kept_30_days_and_looked_at_hourly_by_default() -> None:
    retention = MatcherSettings().retention  # type: ignore[call-arg]  # the rest comes from the environment

    assert (retention.period, retention.interval_s) == (timedelta(days=30), 3600)


def test_retention_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCHER_RETENTION__DAYS", "7")
    monkeypatch.setenv("MATCHER_RETENTION__INTERVAL_S", "600")

    retention = MatcherSettings().retention  # type: ignore[call-arg]

    assert (retention.period, retention.interval_s) == (timedelta(days=7), 600)


@pytest.mark.parametrize(("variable", "value"), [("DAYS", "0"), ("DAYS", "a month"), ("INTERVAL_S", "0")])
def test_a_retention_that_makes_no_sense_is_refused(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(f"MATCHER_RETENTION__{variable}", value)

    with pytest.raises(ValidationError):
        MatcherSettings()  # type: ignore[call-arg]


def test_bookkeeping_outlives_the_topics_whose_redelivery_needs_it() -> None:
    configured = timedelta(days=30)
    assert effective_retention(configured, {"job.started": timedelta(days=7), "shard.requested": timedelta(days=1)}) \
        == configured
    assert effective_retention(configured, {"job.started": timedelta(days=7), "shard.requested": timedelta(days=45)}) \
        == timedelta(days=45) + REDELIVERY_MARGIN
    assert effective_retention(configured, {"job.started": None, "shard.requested": timedelta(days=1)}) is None, \
        "a topic that keeps events forever: never delete"
    assert effective_retention(configured, {}) == configured
