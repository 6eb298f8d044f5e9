"""The upload size limit as callers see it. The files service words its own limit the same way (code
file_too_large, "File exceeds the 100 MB limit", params limit_mb and limit_bytes), so an upload refused by either
layer reads alike, and the translated message (platform_common/locales) renders from the same params."""

from __future__ import annotations

from platform_common.errors import PayloadTooLarge

MIB = 1024 * 1024


def limit_in_mb(limit_bytes: int) -> int | float:
    """100 for 100 MiB; a limit that is not a whole number of MiB to one decimal (0.5 for 512 KiB)."""
    return limit_bytes // MIB if limit_bytes % MIB == 0 else round(limit_bytes / MIB, 1)


def file_too_large(limit_bytes: int) -> PayloadTooLarge:
    limit_mb = limit_in_mb(limit_bytes)
    return PayloadTooLarge(f"File exceeds the {limit_mb} MB limit", code="file_too_large", limit_mb=limit_mb,
                           limit_bytes=limit_bytes)
