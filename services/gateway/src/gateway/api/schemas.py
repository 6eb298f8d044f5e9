"""Models that exist only in the public contract: the problem document every error uses."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field, e.g. `name` or `query.limit`")
    code: str = Field(description="Stable machine-readable reason, e.g. `string_too_short`")
    message: str = Field(description="Human message in the caller's language (Accept-Language)")


class Problem(BaseModel):
    """RFC 9457 problem document; `code` is stable, `detail` is in the caller's language."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    code: str
    request_id: str | None = None
    trace_id: str | None = Field(default=None, description="Quote it when reporting a problem")
    errors: list[FieldError] | None = None
