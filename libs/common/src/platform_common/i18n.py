"""Problem messages in the caller's language. Catalogues are data (`platform_common/locales/<lang>.json`,
keyed by the stable error `code`), so adding a language is adding a file; `Accept-Language` picks one."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from importlib.resources import files
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from platform_common.errors import DomainError, ValidationFailed
from platform_common.http import TRANSLATOR, Translator

M = TypeVar("M", bound=BaseModel)
SOURCE_LANGUAGE = "en"
LOCALES_PACKAGE = "platform_common.locales"
_LANGUAGE_RANGE = re.compile(r"^(\*|[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*)$")  # RFC 9110 §12.5.4 language-range
_MAX_HEADER = 512


def parse_accept_language(header: str | None) -> list[str]:
    """Primary language tags in preference order (q=0 dropped); malformed parts are ignored, never fatal."""
    if not header or len(header) > _MAX_HEADER:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not _LANGUAGE_RANGE.match(tag):
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = -1.0
        if 0.0 < quality <= 1.0:
            weighted.append((-quality, position, tag.split("-")[0].lower()))
    return [tag for _, _, tag in sorted(weighted)]


class _Params(dict[str, Any]):
    """str.format_map source that refuses to render a message with a hole in it."""

    def __missing__(self, key: str) -> Any:
        raise KeyError(key)


def _render(template: str | None, params: Mapping[str, Any]) -> str | None:
    if template is None:
        return None
    try:
        return template.format_map(_Params(params))
    except (KeyError, IndexError, ValueError):
        return None


class Catalogue:
    """Messages per language: `problems` by error code, `fields` by field-error code."""

    def __init__(self, messages: Mapping[str, Mapping[str, Mapping[str, str]]]) -> None:
        if SOURCE_LANGUAGE not in messages:
            raise ValueError("the catalogue needs the source language")
        self._messages = messages

    @classmethod
    def load(cls, package: str = LOCALES_PACKAGE) -> Catalogue:
        """Read every `<lang>.json` shipped in `package`."""
        loaded: dict[str, Mapping[str, Mapping[str, str]]] = {}
        for entry in files(package).iterdir():
            if entry.name.endswith(".json"):
                data = json.loads(entry.read_text(encoding="utf-8"))
                loaded[str(data["language"])] = {"problems": data.get("problems", {}),
                                                 "fields": data.get("fields", {})}
        return cls(loaded)

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self._messages)

    def negotiate(self, accept_language: str | None) -> str:
        """The best language we have for the header; the source language when nothing matches."""
        for tag in parse_accept_language(accept_language):
            if tag == "*":
                return SOURCE_LANGUAGE
            if tag in self._messages:
                return tag
        return SOURCE_LANGUAGE

    def problem(self, language: str, code: str, default: str, params: Mapping[str, Any]) -> str:
        """The detail for `code` in `language`. The source language keeps the raiser's own wording, which may
        be more specific than the catalogue's; other languages fall back to it when a message is missing."""
        if language == SOURCE_LANGUAGE:
            return default
        rendered = _render(self._messages.get(language, {}).get("problems", {}).get(code), params)
        return rendered if rendered is not None else default

    def field(self, language: str, code: str, default: str, params: Mapping[str, Any]) -> str:
        """A field-level message; field errors have no raiser's wording worth keeping, so every language uses
        the catalogue, then the source language, then the validator's own text."""
        for candidate in (language, SOURCE_LANGUAGE):
            rendered = _render(self._messages.get(candidate, {}).get("fields", {}).get(code), params)
            if rendered is not None:
                return rendered
        return default


CATALOGUE: web.AppKey[Catalogue] = web.AppKey("i18n_catalogue")


def translator(catalogue: Catalogue) -> Translator:
    """The `platform_common.http.TRANSLATOR` hook rendering problem details from the catalogue."""

    def translate(request: web.Request, code: str, default: str, params: dict[str, Any]) -> str:
        return catalogue.problem(catalogue.negotiate(request.headers.get("Accept-Language")), code, default, params)

    return translate


def install_translations(app: web.Application, catalogue: Catalogue | None = None) -> Catalogue:
    """Answer every problem document of `app` in the caller's language."""
    chosen = catalogue or Catalogue.load()
    app[CATALOGUE] = chosen
    app[TRANSLATOR] = translator(chosen)
    return chosen


def _context(item: Mapping[str, Any]) -> dict[str, Any]:
    context = dict(item.get("ctx") or {})
    return {key: value if isinstance(value, int | float | str) else str(value) for key, value in context.items()}


def field_errors(request: web.Request, error: ValidationError, *, prefix: str = "") -> list[dict[str, Any]]:
    """Field-level errors of a pydantic failure, in the caller's language: `field`, `code`, `message`."""
    catalogue = request.app.get(CATALOGUE)
    language = catalogue.negotiate(request.headers.get("Accept-Language")) if catalogue else SOURCE_LANGUAGE
    result = []
    for item in error.errors(include_url=False):
        path = ".".join(str(part) for part in item["loc"])
        field = f"{prefix}.{path}" if prefix and path else (path or prefix or "body")
        message = str(item["msg"])
        if catalogue is not None:
            message = catalogue.field(language, str(item["type"]), message, _context(item))
        result.append({"field": field, "code": str(item["type"]), "message": message})
    return result


def invalid_fields(request: web.Request, errors: list[dict[str, Any]]) -> ValidationFailed:
    """A 422 carrying field errors; messages of custom field codes are looked up in the catalogue too."""
    catalogue = request.app.get(CATALOGUE)
    if catalogue is not None:
        language = catalogue.negotiate(request.headers.get("Accept-Language"))
        errors = [{**e, "message": catalogue.field(language, e["code"], e.get("message", ""), e.get("params", {}))}
                  for e in errors]
    return ValidationFailed("One or more fields are invalid.",
                            errors=[{k: v for k, v in e.items() if k != "params"} for e in errors])


def validation_failed(request: web.Request, error: ValidationError, *, prefix: str = "") -> ValidationFailed:
    """The 422 to raise for a pydantic failure on a request body or query."""
    return ValidationFailed("One or more fields are invalid.", errors=field_errors(request, error, prefix=prefix))


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"
    http_status = 415
    title = "Unsupported content type"


async def parse_json_body(request: web.Request, model: type[M]) -> M:
    """The request's JSON body as `model`; a 415 for another content type, a translated 422 for bad fields."""
    if request.content_type not in ("application/json", "application/octet-stream") and request.body_exists:
        raise UnsupportedMediaType("Send the body as application/json.")
    try:
        return model.model_validate_json(await request.read() or b"{}")
    except ValidationError as error:
        raise validation_failed(request, error) from None


def parse_query(request: web.Request, model: type[M]) -> M:
    """The query string as `model` (last value wins for repeated keys); a translated 422 for bad fields."""
    try:
        return model.model_validate({key: request.query.getall(key)[-1] for key in request.query})
    except ValidationError as error:
        raise validation_failed(request, error, prefix="query") from None
