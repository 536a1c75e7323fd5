"""Error messages: one line with status, method, path, Gcore's message and request id."""

from __future__ import annotations

import pytest

from gcore_pulumi.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    RateLimitError,
    ServerError,
)


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, BadRequestError), (401, AuthenticationError), (404, NotFoundError),
     (409, ConflictError), (429, RateLimitError), (502, ServerError), (418, ApiError)],
)  # fmt: skip
def test_from_status_picks_the_class(status: int, cls: type[ApiError]) -> None:
    error = ApiError.from_status(status, "GET", "/x", {})
    assert type(error) is cls


def test_message_is_one_line_with_everything_needed() -> None:
    body = {
        "exception_class": "ConflictError",
        "message": "Security group rule already exists",
        "request_id": "req-42",
    }
    error = ApiError.from_status(409, "POST", "/cloud/v1/securitygroups/1/1/g/rules", body)
    text = str(error)
    assert "\n" not in text
    assert text.startswith("Gcore API 409 on POST /cloud/v1/securitygroups/1/1/g/rules:")
    assert "Security group rule already exists" in text
    assert "req-42" in text


def test_invalid_fields_are_listed() -> None:
    body = {"message": "Validation error", "invalid_fields": {"port_range_min": ["bad"]}}
    assert "port_range_min" in str(ApiError.from_status(400, "POST", "/p", body))


def test_body_that_is_not_gcore_json_still_gives_a_message() -> None:
    assert "Bad Gateway" in str(ApiError.from_status(502, "GET", "/p", "<html>"))


def test_401_hint_says_where_the_key_goes() -> None:
    assert "gcore:apiKey" in str(ApiError.from_status(401, "GET", "/p", {}))
