"""Catalogue-based messages: language negotiation, rendering, fallbacks, and every language complete."""

from __future__ import annotations

import json
from importlib.resources import files

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import BaseModel, Field

from platform_common.errors import Forbidden, NotFound, RateLimited
from platform_common.http import create_base_app
from platform_common.i18n import Catalogue, install_translations, parse_accept_language, parse_json_body, parse_query


@pytest.mark.parametrize(("header", "expected"), [
    ("de-DE,de;q=0.9,en;q=0.8", ["de", "de", "en"]),
    ("en;q=0.1, de", ["de", "en"]),
    ("fr;q=0, de;q=0.5", ["de"]),
    ("*", ["*"]),
    ("de;q=abc, en", ["en"]),
    ("<script>, de", ["de"]),
    (None, []),
    ("de," * 500, []),
])
def test_accept_language_is_parsed_by_preference(header: str | None, expected: list[str]) -> None:
    assert parse_accept_language(header) == expected


def test_every_language_has_every_message_with_the_same_placeholders() -> None:
    import string

    def placeholders(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    catalogues = {entry.name: json.loads(entry.read_text(encoding="utf-8"))
                  for entry in files("platform_common.locales").iterdir() if entry.name.endswith(".json")}
    english = catalogues.pop("en.json")
    assert catalogues, "at least one translation"
    for name, catalogue in catalogues.items():
        for section in ("problems", "fields"):
            assert set(catalogue[section]) == set(english[section]), (name, section)
            for code, text in english[section].items():
                assert placeholders(catalogue[section][code]) == placeholders(text), (name, code)


def test_messages_render_with_params_and_fall_back_when_they_cannot() -> None:
    catalogue = Catalogue.load()
    assert catalogue.negotiate("de-AT") == "de" and catalogue.negotiate("xx") == "en"
    assert catalogue.problem("de", "file_too_large", "raw", {"limit_mb": 10}) == "Die Datei überschreitet die " \
                                                                                 "Grenze von 10 MB"
    assert catalogue.problem("de", "file_too_large", "raw", {}) == "raw", "a message with a hole is not used"
    assert catalogue.problem("de", "no_such_code", "raw", {}) == "raw"
    assert catalogue.problem("en", "project_not_found", "The raiser's own words.", {}) == "The raiser's own words."
    assert catalogue.field("de", "string_too_short", "raw", {"min_length": 3}) == \
        "Muss mindestens 3 Zeichen lang sein."
    assert catalogue.field("en", "unknown_code", "validator text", {}) == "validator text"


class Thing(BaseModel):
    name: str = Field(min_length=2)
    size: int = Field(default=1, le=10)


async def test_problem_documents_and_field_errors_follow_accept_language() -> None:
    async def forbidden(_: web.Request) -> web.Response:
        raise Forbidden(code="project_forbidden")

    async def missing(_: web.Request) -> web.Response:
        raise NotFound("Specific English detail.", code="project_not_found")

    async def limited(_: web.Request) -> web.Response:
        raise RateLimited("Too many.", retry_after_s=3, seconds=3)

    async def body(request: web.Request) -> web.Response:
        return web.json_response((await parse_json_body(request, Thing)).model_dump())

    async def query(request: web.Request) -> web.Response:
        return web.json_response(parse_query(request, Thing).model_dump())

    app = create_base_app("unit")
    install_translations(app)
    for path, handler in (("/forbidden", forbidden), ("/missing", missing), ("/limited", limited),
                          ("/query", query)):
        app.router.add_get(path, handler)
    app.router.add_post("/body", body)
    async with TestClient(TestServer(app)) as client:
        german = {"Accept-Language": "de"}
        assert (await (await client.get("/forbidden", headers=german)).json())["detail"] == \
            "Sie haben keinen Zugriff auf dieses Projekt"
        assert (await (await client.get("/missing")).json())["detail"] == "Specific English detail."
        assert (await (await client.get("/missing", headers=german)).json())["detail"] == \
            "Das Projekt wurde nicht gefunden."
        response = await client.get("/limited", headers=german)
        assert response.headers["Retry-After"] == "3"
        assert (await response.json())["detail"] == ("Zu viele Anfragen. Bitte warten Sie 3 Sekunden und versuchen "
                                                     "Sie es erneut.")
        answer = await (await client.post("/body", data=b'{"name": "x", "size": 11}', headers=german)).json()
        assert answer["errors"] == [
            {"field": "name", "code": "string_too_short", "message": "Muss mindestens 2 Zeichen lang sein."},
            {"field": "size", "code": "less_than_equal", "message": "Darf höchstens 10 sein."}]
        answer = await (await client.post("/body", data=b"{not json")).json()
        assert answer["errors"][0]["code"] == "json_invalid"
        assert answer["errors"][0]["message"] == "The body is not valid JSON."
        response = await client.post("/body", data=b"name=x", headers={"Content-Type": "text/plain"})
        assert response.status == 415
        answer = await (await client.get("/query?name=ab&size=x&size=99")).json()
        assert answer["errors"] == [{"field": "query.size", "code": "less_than_equal",
                                     "message": "Must be at most 10."}], "the last repeated value counts"
        assert await (await client.get("/query?name=ab")).json() == {"name": "ab", "size": 1}
