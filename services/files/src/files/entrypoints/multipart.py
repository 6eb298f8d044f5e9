"""Reading a multipart upload: the file part streams into a store chunk by chunk; other fields are small text."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web
from pydantic import ValidationError

from files.adapters.storage import FileTooLarge, ObjectStore, StagedObject
from files.domain.mapping import ColumnMapping, ParseOptions
from platform_common.errors import DomainError, ValidationFailed

FILE_FIELD = "file"
MAX_FIELD_BYTES = 256 * 1024  # a mapping template is a few KB
READ_CHUNK = 256 * 1024
# Room for the multipart envelope and the other fields when judging Content-Length against the file limit.
ENVELOPE_ALLOWANCE = 2 * MAX_FIELD_BYTES


class UnsupportedMediaType(DomainError):
    code = "multipart_required"
    http_status = 415
    title = "Unsupported media type"


@dataclass(frozen=True)
class ReceivedForm:
    staged: StagedObject
    filename: str
    content_type: str | None
    fields: dict[str, str] = field(default_factory=dict)


async def _part_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(READ_CHUNK):
        yield chunk


async def _small_field(part: BodyPartReader) -> str:
    data = bytearray()
    async for chunk in _part_chunks(part):
        data += chunk
        if len(data) > MAX_FIELD_BYTES:
            raise ValidationFailed(f"Form field {part.name!r} is larger than {MAX_FIELD_BYTES // 1024} KB.",
                                   code="form_field_too_large", field=part.name or "",
                                   limit_kb=MAX_FIELD_BYTES // 1024)
    return data.decode(part.get_charset(default="utf-8"))


async def receive_form(request: web.Request, store: ObjectStore, *, max_bytes: int) -> ReceivedForm:
    """Stream the `file` part into `store` (staged, not yet promoted) and collect the other fields.

    On any failure the staged object is discarded, so a refused request leaves nothing behind."""
    if request.content_type != "multipart/form-data":
        raise UnsupportedMediaType("Send the file as multipart/form-data with a 'file' field.")
    if request.content_length is not None and request.content_length > max_bytes + ENVELOPE_ALLOWANCE:
        raise FileTooLarge(max_bytes)  # certain before reading a byte
    staged: StagedObject | None = None
    filename, content_type = "upload", None
    fields: dict[str, str] = {}
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise ValidationFailed("Nested multipart bodies are not supported.", code="multipart_invalid")
            if part.name == FILE_FIELD:
                if staged is not None:
                    raise ValidationFailed("Send one file per request.", code="multiple_files")
                filename = (part.filename or "").strip() or filename
                content_type = part.headers.get("Content-Type")
                staged = await store.stage(_part_chunks(part), max_bytes=max_bytes)
            elif part.name:
                fields[part.name] = await _small_field(part)
    except BaseException:
        if staged is not None:
            await store.discard(staged)
        raise
    if staged is None:
        raise ValidationFailed("The request has no file; send it in a multipart field named 'file'.",
                               code="file_missing",
                               errors=[{"field": FILE_FIELD, "code": "missing", "message": "a file is required"}])
    return ReceivedForm(staged=staged, filename=filename, content_type=content_type, fields=fields)


def optional_uuid(fields: dict[str, str], name: str) -> uuid.UUID | None:
    value = fields.get(name, "").strip()
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationFailed(f"{name} is not a valid id.", code="id_invalid", field=name,
                               errors=[{"field": name, "code": "uuid_parsing", "message": "not a UUID"}]) from None


def on_error_field(fields: dict[str, str]) -> str | None:
    value = fields.get("on_error", "").strip()
    if not value:
        return None
    if value not in ("reject", "skip"):
        raise ValidationFailed("on_error must be 'reject' (bad rows reject the file) or 'skip' (bad rows are "
                               "skipped and listed).", code="on_error_invalid",
                               errors=[{"field": "on_error", "code": "literal_error", "message": "reject or skip"}])
    return value


def bool_field(fields: dict[str, str], name: str) -> bool:
    return fields.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _json_field(fields: dict[str, str], name: str) -> Any:
    raw = fields.get(name, "").strip()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValidationFailed(f"{name} is not valid JSON: {error.msg} at position {error.pos}.",
                               code="json_invalid",
                               errors=[{"field": name, "code": "json_invalid", "message": error.msg}]) from None


def validated_mapping(value: Any, *, field_name: str = "mapping") -> dict[str, Any] | None:
    """A mapping template checked by the domain's model; stored in its canonical JSON form."""
    if value is None:
        return None
    try:
        return ColumnMapping.model_validate(value).model_dump(mode="json", exclude_none=True)
    except ValidationError as error:
        raise _invalid(field_name, "The column mapping is not valid.", "mapping_invalid", error) from None


def validated_options(value: Any, *, field_name: str = "options") -> dict[str, Any] | None:
    """Parse options as given (only the keys set), so a data source's options still fill the rest."""
    if value is None:
        return None
    try:
        return ParseOptions.model_validate(value).model_dump(mode="json", exclude_unset=True)
    except ValidationError as error:
        raise _invalid(field_name, "The parse options are not valid.", "options_invalid", error) from None


def mapping_field(fields: dict[str, str]) -> dict[str, Any] | None:
    return validated_mapping(_json_field(fields, "mapping"))


def options_field(fields: dict[str, str]) -> dict[str, Any] | None:
    return validated_options(_json_field(fields, "options"))


def _invalid(field_name: str, detail: str, code: str, error: ValidationError) -> ValidationFailed:
    errors = [{"field": ".".join([field_name, *(str(p) for p in item["loc"])]), "code": item["type"],
               "message": item["msg"]} for item in error.errors()]
    return ValidationFailed(detail, code=code, errors=errors)
