"""The event envelope and the (type, version) registry every topic shares."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from platform_common.errors import PermanentError


class Event(BaseModel):
    """A typed event body. Readers are tolerant (unknown fields ignored) so canary and stable coexist."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    TOPIC: ClassVar[str]
    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1

    def partition_key(self) -> bytes:
        """The Kafka key: it decides ordering scope and which partition (and so which consumer) gets it."""
        raise NotImplementedError


class Envelope(BaseModel):
    """What travels on every topic: metadata for idempotency and tracing, plus the typed `data`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    version: int
    occurred_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    producer: str
    correlation_id: str | None = None
    data: dict[str, Any]


EventT = TypeVar("EventT", bound=Event)

_REGISTRY: dict[tuple[str, int], type[Event]] = {}


def register(cls: type[EventT]) -> type[EventT]:
    """Class decorator adding an event type to the decoding registry."""
    key = (cls.TYPE, cls.VERSION)
    if key in _REGISTRY and _REGISTRY[key] is not cls:
        raise RuntimeError(f"event {key} registered twice")
    _REGISTRY[key] = cls
    return cls


def registered_events() -> dict[tuple[str, int], type[Event]]:
    """A copy of the registry, for catalogues and documentation."""
    return dict(_REGISTRY)


def wrap(event: Event, *, producer: str, correlation_id: str | None = None,
         event_id: uuid.UUID | None = None) -> Envelope:
    """Put an event in its envelope; pass `event_id` to make a re-publication deterministic."""
    return Envelope(
        id=event_id or uuid.uuid4(),
        type=event.TYPE,
        version=event.VERSION,
        producer=producer,
        correlation_id=correlation_id,
        data=event.model_dump(mode="json"),
    )


def encode(envelope: Envelope) -> bytes:
    """Serialise an envelope to the UTF-8 JSON bytes that go on the wire."""
    return envelope.model_dump_json().encode()


class DecodedMessage(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    envelope: Envelope
    event: Event


def decode(raw: bytes | None) -> DecodedMessage:
    """Parse wire bytes into envelope and typed event; anything unreadable is a PermanentError."""
    if raw is None:
        raise PermanentError("message has no value", code="message_empty")
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PermanentError(f"message is not JSON: {error}", code="message_not_json") from None
    try:
        envelope = Envelope.model_validate(payload)
    except ValidationError as error:
        raise PermanentError(f"envelope invalid: {_summarise(error)}", code="envelope_invalid") from None
    event_cls = _REGISTRY.get((envelope.type, envelope.version))
    if event_cls is None:
        raise PermanentError(
            f"unknown event type {envelope.type!r} version {envelope.version}", code="event_type_unknown"
        )
    try:
        event = event_cls.model_validate(envelope.data)
    except ValidationError as error:
        raise PermanentError(f"{envelope.type} data invalid: {_summarise(error)}",
                             code="event_data_invalid") from None
    return DecodedMessage(envelope=envelope, event=event)


def _summarise(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in item['loc']) or '<root>'}: {item['msg']}" for item in error.errors()
    )
