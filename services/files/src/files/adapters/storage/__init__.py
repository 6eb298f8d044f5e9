"""Raw-file storage: content-addressed objects on a filesystem or behind the S3 API."""

from files.adapters.storage.base import (
    FileTooLarge,
    ObjectStore,
    StagedObject,
    content_key,
    describe_size,
)
from files.adapters.storage.locator import ObjectLocator, ObjectRejected

__all__ = [
    "FileTooLarge",
    "ObjectLocator",
    "ObjectRejected",
    "ObjectStore",
    "StagedObject",
    "content_key",
    "describe_size",
]
