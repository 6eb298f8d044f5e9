"""Typed, versioned events and their envelope."""

from platform_common.events.base import (
    DecodedMessage,
    Envelope,
    Event,
    decode,
    encode,
    register,
    registered_events,
    wrap,
)
from platform_common.events.catalogue import (
    FileIngested,
    FileUploaded,
    JobCompleted,
    JobProgressed,
    JobStarted,
    MatchBatchProduced,
    MatchItem,
    ShardRequested,
    UnmatchedItem,
)

__all__ = [
    "DecodedMessage",
    "Envelope",
    "Event",
    "FileIngested",
    "FileUploaded",
    "JobCompleted",
    "JobProgressed",
    "JobStarted",
    "MatchBatchProduced",
    "MatchItem",
    "ShardRequested",
    "UnmatchedItem",
    "decode",
    "encode",
    "register",
    "registered_events",
    "wrap",
]
