"""Every problem the files service reports has a German message that renders with what the service passes."""

from __future__ import annotations

import json
from importlib.resources import files as package_files

import pytest

from files.domain.errors import ErrorCode
from platform_common.i18n import Catalogue

# Problem codes raised outside ErrorCode: ingestion outcomes, drop-off checks, the HTTP API.
SERVICE_CODES = (
    "rows_invalid", "records_not_storable", "file_rejected", "ingestion_failed", "parser_crashed",
    "data_source_unknown", "file_id_conflict", "object_checksum_mismatch", "object_uri_invalid",
    "object_uri_not_allowed", "object_not_found", "object_access_denied", "object_store_not_configured",
    "object_store_unavailable", "file_too_large", "json_invalid", "query_invalid", "form_field_too_large",
    "multipart_invalid", "multipart_required", "multiple_files", "file_missing", "id_invalid", "on_error_invalid",
    "mapping_invalid", "options_invalid", "data_source_required", "data_source_not_found", "data_source_conflict",
    "dataset_not_found", "file_not_found", "project_id_required", "project_not_found", "project_forbidden",
    "not_found", "upstream_unavailable",
)
# Everything a message may name (files.entrypoints.responses.message_params): a row error's line, column and
# raw value, a file problem's column and params, an HTTP problem's params.
PARAMS = {"line": 7, "column": "Betrag", "raw_value": "abc", "rows": 3, "sheet": "Umsätze", "encoding": "latin-9",
          "errors": 2, "on_error": "reject", "limit_mb": 100, "field": "mapping", "limit_kb": 256}


def german_problems() -> dict[str, str]:
    data = json.loads(package_files("platform_common.locales").joinpath("de.json").read_text(encoding="utf-8"))
    problems: dict[str, str] = data["problems"]
    return problems


@pytest.mark.parametrize("code", [code.value for code in ErrorCode])
def test_every_error_code_has_a_german_message(code: str) -> None:
    assert code in german_problems(), f"add {code!r} to platform_common/locales/de.json (and en.json)"
    rendered = Catalogue.load().problem("de", code, "english", PARAMS)
    assert rendered != "english", f"the German message for {code!r} names something the service never passes"


@pytest.mark.parametrize("code", SERVICE_CODES)
def test_every_other_problem_of_the_service_has_a_german_message(code: str) -> None:
    assert code in german_problems()
    assert Catalogue.load().problem("de", code, "english", PARAMS) != "english"


def test_messages_name_the_column_count_and_value_they_are_given() -> None:
    catalogue = Catalogue.load()
    assert catalogue.problem("de", "no_valid_rows", "english", {"rows": 3}) == (
        "Keine der 3 Datenzeilen konnte gelesen werden; die Zeilenfehler nennen die Gründe.")
    assert catalogue.problem("de", "date_format_ambiguous", "english", {"column": "Datum"}).startswith(
        "Die Datumswerte in Spalte „Datum“ ")
    assert catalogue.problem("de", "amount_invalid", "english", {"line": 3, "column": "Betrag", "raw_value": "zwölf"}
                             ) == "„zwölf“ in Spalte „Betrag“ ist kein gültiger Betrag."
    assert catalogue.problem("de", "amount_invalid", "english", {"line": 3}) == "english", \
        "without the value it names, the English message stays"
