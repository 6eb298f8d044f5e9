"""Errors the engine raises; each carries a stable code and a one-line, user-facing message."""

from __future__ import annotations


class EngineError(Exception):
    code = "engine_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RuleError(EngineError):
    """The rule set is invalid; the message names the offending path."""

    code = "rules_invalid"


class InputError(EngineError):
    """The records cannot be matched as given (missing column, bad dtype, duplicate id...)."""

    code = "input_invalid"
