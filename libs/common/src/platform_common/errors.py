"""One error taxonomy for HTTP answers and Kafka ack/retry/dead-letter decisions."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A failure the caller can understand; `code` is stable and documented, the message is English."""

    code: str = "domain_error"
    http_status: int = 400
    retryable: bool = False
    title: str = "Request failed"

    def __init__(self, detail: str | None = None, *, code: str | None = None, **params: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code is not None:
            self.code = code
        self.params = params


class ValidationFailed(DomainError):
    code = "validation_failed"
    http_status = 422
    title = "The request is not valid"

    def __init__(self, detail: str | None = None, *, errors: list[dict[str, Any]] | None = None,
                 code: str | None = None, **params: Any) -> None:
        super().__init__(detail, code=code, **params)
        self.errors = errors or []


class Unauthorized(DomainError):
    code = "unauthorized"
    http_status = 401
    title = "Authentication is required"


class Forbidden(DomainError):
    code = "forbidden"
    http_status = 403
    title = "You don't have access to this project"


class NotFound(DomainError):
    code = "not_found"
    http_status = 404
    title = "The resource was not found"


class Conflict(DomainError):
    code = "conflict"
    http_status = 409
    title = "The request conflicts with the current state"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    http_status = 413
    title = "The request body is too large"


class RateLimited(DomainError):
    code = "rate_limited"
    http_status = 429
    title = "Too many requests"
    retryable = True

    def __init__(self, detail: str | None = None, *, retry_after_s: int = 1, **params: Any) -> None:
        super().__init__(detail, **params)
        self.retry_after_s = retry_after_s


class DependencyUnavailable(DomainError):
    code = "dependency_unavailable"
    http_status = 503
    title = "A dependency is unavailable"
    retryable = True


class PermanentError(DomainError):
    """A message that can never be processed (bad payload, unknown type): dead-letter it."""

    code = "permanent_error"
    http_status = 422
    title = "The message cannot be processed"


class TransientError(DomainError):
    """A failure worth retrying (database, network): retry, then seek back rather than commit."""

    code = "transient_error"
    http_status = 503
    title = "Temporary failure"
    retryable = True
