"""Typed application keys of the files service."""

from __future__ import annotations

from aiohttp import web

from files.adapters.parser_pool import ParserPool
from files.adapters.projects_client import ProjectsClient
from files.adapters.storage import ObjectLocator, ObjectStore
from files.adapters.storage.filesystem import FilesystemObjectStore
from files.config import FilesSettings

SETTINGS = web.AppKey("files_settings", FilesSettings)
STORE: web.AppKey[ObjectStore] = web.AppKey("object_store")
LOCATOR = web.AppKey("object_locator", ObjectLocator)
SCRATCH = web.AppKey("scratch_store", FilesystemObjectStore)  # previews: parsed, never kept
PARSERS = web.AppKey("parser_pool", ParserPool)
PROJECTS = web.AppKey("projects_client", ProjectsClient)  # data sources live in the projects service
