"""An upload over the size limit reads the same whichever layer refuses it: the gateway (its own limit) or the
files service (FILES_STORAGE__MAX_UPLOAD_BYTES), in every language of the catalogues."""

from __future__ import annotations

import json
from importlib.resources import files as package_files

import pytest

from files.adapters.storage import FileTooLarge
from gateway.domain.limits import file_too_large
from platform_common.i18n import Catalogue

MIB = 1024 * 1024


@pytest.mark.parametrize(("limit_bytes", "english", "german"), [
    (100 * MIB, "File exceeds the 100 MB limit", "Die Datei überschreitet die Grenze von 100 MB"),
    (1 * MIB, "File exceeds the 1 MB limit", "Die Datei überschreitet die Grenze von 1 MB"),
    (512 * 1024, "File exceeds the 0.5 MB limit", "Die Datei überschreitet die Grenze von 0.5 MB"),
])
def test_both_layers_name_the_limit_in_the_same_words(limit_bytes: int, english: str, german: str) -> None:
    catalogue = Catalogue.load()
    english_catalogue = json.loads(package_files("platform_common.locales").joinpath("en.json").read_text("utf-8"))
    for error in (file_too_large(limit_bytes), FileTooLarge(limit_bytes)):
        assert (error.code, error.http_status, error.detail) == ("file_too_large", 413, english)
        assert catalogue.problem("de", error.code, error.detail, error.params) == german
        # English answers keep the raiser's words; the English catalogue says the same.
        assert english_catalogue["problems"][error.code].format(**error.params) == english
