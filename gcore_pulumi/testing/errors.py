"""Gcore's error answers: the status plus the JSON error body every API error carries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gcore_pulumi.testing.neutron import RuleValidationError

__all__ = ["ApiError", "conflict", "not_found", "validation_error"]


class ApiError(Exception):
    """An error answer of the API: status plus the Gcore error body fields."""

    def __init__(
        self,
        status: int,
        exception_class: str,
        message: str,
        invalid_fields: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.exception_class = exception_class
        self.message = message
        self.invalid_fields = None if invalid_fields is None else dict(invalid_fields)
        self.headers = dict(headers or {})

    def body(self, request_id: str) -> dict[str, Any]:
        """The JSON error body the API sends."""
        payload: dict[str, Any] = {
            "exception_class": self.exception_class,
            "message": self.message,
            "request_id": request_id,
        }
        if self.invalid_fields is not None:
            payload["invalid_fields"] = self.invalid_fields
        return payload


def not_found(message: str) -> ApiError:
    """404 ``NotFoundError``."""
    return ApiError(404, "NotFoundError", message)


def conflict(message: str) -> ApiError:
    """409 ``ConflictError``."""
    return ApiError(409, "ConflictError", message)


def validation_error(err: RuleValidationError) -> ApiError:
    """400 ``ValidationError`` with the offending fields."""
    return ApiError(400, "ValidationError", err.message, err.invalid_fields)
