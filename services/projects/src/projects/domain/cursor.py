"""Opaque keyset-pagination cursors: the sort key and id of the last item a page returned."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Any

from platform_common.errors import ValidationFailed

_TIME_SORTS = {"created_at", "updated_at"}


def _invalid() -> ValidationFailed:
    return ValidationFailed("The pagination cursor is not valid for this query.", code="invalid_cursor",
                            errors=[{"field": "query.cursor", "code": "invalid_cursor",
                                     "message": "The pagination cursor is not valid for this query."}])


def encode_cursor(sort: str, key: Any, item_id: uuid.UUID) -> str:
    value = key.isoformat() if isinstance(key, datetime) else key
    raw = json.dumps({"s": sort, "k": value, "id": str(item_id)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, sort: str) -> tuple[Any, uuid.UUID]:
    """The (sort key, id) to continue after; a cursor from another sort order or a mangled one is a 422."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(data, dict) or data.get("s") != sort:
            raise _invalid()
        item_id = uuid.UUID(str(data["id"]))
        key = data["k"]
        field = sort.lstrip("-")
        if field in _TIME_SORTS:
            parsed = datetime.fromisoformat(str(key))
            if parsed.tzinfo is None:
                raise _invalid()
            return parsed, item_id
        if not isinstance(key, str):
            raise _invalid()
        return key, item_id
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise _invalid() from None
