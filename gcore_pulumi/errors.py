"""Errors this package raises, each printing as one line a person can act on.

API errors carry the HTTP status, method and path (never the host's query string or any
header, so never the key), Gcore's ``message`` and its ``request_id`` for support.
``ApiError.from_status`` picks the class for a status, as Gcore's SDK does.
"""

from __future__ import annotations

from typing import Any, ClassVar


class GcoreError(Exception):
    """Base class of every error raised by gcore_pulumi."""


class ConfigurationError(GcoreError):
    """Settings are missing or unsafe (no API key, plain http to a remote host...)."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        """The config key or environment variable at fault, when there is one."""


class TransportError(GcoreError):
    """No usable answer: the connection failed or timed out, even after retries."""

    def __init__(self, method: str, path: str, reason: str, *, maybe_sent: bool = True) -> None:
        self.method = method
        self.path = path
        self.reason = reason
        self.maybe_sent = maybe_sent
        """False only when the request surely never reached the server (safe to resend)."""
        super().__init__(f"{method} {path} failed: {reason}")


class ApiError(GcoreError):
    """Gcore answered with an error status."""

    status: int
    default_hint: ClassVar[str] = ""

    def __init__(
        self,
        status: int,
        method: str,
        path: str,
        message: str,
        request_id: str | None = None,
        exception_class: str | None = None,
        invalid_fields: dict[str, Any] | None = None,
        hint: str | None = None,
    ) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.message = message
        self.request_id = request_id
        self.exception_class = exception_class
        self.invalid_fields = invalid_fields or {}
        self.hint = self._fitting_hint() if hint is None else hint
        super().__init__(str(self))

    def _fitting_hint(self) -> str:
        """The class's default hint, as it fits where it runs (see ``hints``)."""
        return self.default_hint

    def __str__(self) -> str:
        text = f"Gcore API {self.status} on {self.method} {self.path}: {self.message}"
        if self.invalid_fields:
            fields = "; ".join(f"{k}: {v}" for k, v in sorted(self.invalid_fields.items()))
            text += f" ({fields})"
        if self.request_id:
            text += f" [request_id {self.request_id}]"
        if self.hint:
            text += f". {self.hint}"
        return text

    @staticmethod
    def from_status(
        status: int, method: str, path: str, body: object, *, hint: str | None = None
    ) -> ApiError:
        """The error class for ``status``, filled from Gcore's error body (any shape)."""
        fields = body if isinstance(body, dict) else {}
        message = fields.get("message") or fields.get("detail") or _reason(status)
        invalid = fields.get("invalid_fields")
        cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
        return cls(
            status,
            method,
            path,
            str(message),
            request_id=_text_or_none(fields.get("request_id")),
            exception_class=_text_or_none(fields.get("exception_class")),
            invalid_fields=invalid if isinstance(invalid, dict) else None,
            hint=hint,
        )


class BadRequestError(ApiError):
    """400: the API refused the values (a check this provider missed, or an API change)."""


class AuthenticationError(ApiError):
    """401: the API key is wrong, expired, or not sent as ``APIKey <key>``."""

    default_hint = "Check the key: `pulumi config set --secret gcore:apiKey <key>` or GCORE_API_KEY"

    def _fitting_hint(self) -> str:
        from . import hints

        option = hints.set_config("gcore:apiKey", "<key>", secret=True)
        return f"Check the key: {option} or GCORE_API_KEY"


class PermissionDeniedError(ApiError):
    """403: the key is valid but may not touch this project or region."""

    default_hint = "The API key lacks rights on this project/region"


class NotFoundError(ApiError):
    """404: the group, rule or project does not exist (or is not visible to the key)."""


class ConflictError(ApiError):
    """409: an identical rule already exists (Gcore ignores description when comparing)."""


class UnexpectedAnswerError(ApiError):
    """An answer that is not Gcore's: a redirect, an HTML or empty error page, a body of the
    wrong shape. It proves nothing about the resource (least of all that it is gone)."""

    default_hint = "Is gcore:baseUrl the Gcore API?"


class BrokenAnswerError(UnexpectedAnswerError):
    """A 2xx whose body is not the JSON Gcore sends (a proxy's page, a body of the wrong
    shape): Gcore may have done the write, so a write's outcome is unknown, not failed."""


class CutOffAnswerError(TransportError):
    """An answer whose body was cut off on the way (fewer bytes than announced): the
    request was handled, its outcome unknown."""


class RateLimitError(ApiError):
    """429: too many requests, even after waiting as asked."""


class ServerError(ApiError):
    """5xx: Gcore failed; retried with backoff before this is raised."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def _text_or_none(value: object) -> str | None:
    return str(value) if value not in (None, "") else None
