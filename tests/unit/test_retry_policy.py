"""The retry policy's pure parts: Retry-After parsing and deadline-bounded timeouts."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import pytest

from gcore_pulumi.api.retry import _current, _Operation
from gcore_pulumi.client import (
    MIN_ANSWER_SECONDS,
    DeadlineExceeded,
    GcoreClient,
    parse_retry_after,
)
from gcore_pulumi.settings import Settings


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("0", 0.0), ("7", 7.0), (" 12 ", 12.0), (None, None), ("1.5", None), ("-1", None),
     ("", None), ("soon", None), ("1e3", None), ("Wed, 99 Foo 2026", None),
     ("99999999999999999999", None), ("Mon, 01 Jan 1990 00:00:00 GMT", 0.0)],
)  # fmt: skip
def test_retry_after_only_whole_seconds_or_an_http_date_count(
    header: str | None, seconds: float | None
) -> None:
    assert parse_retry_after(header) == seconds


def test_retry_after_http_date_in_the_future() -> None:
    header = email.utils.formatdate(time.time() + 30, usegmt=True)
    value = parse_retry_after(header)
    assert value is not None and 25 <= value <= 31


def timeouts(remaining: float, method: str, **settings: float) -> tuple[float, float]:
    client = GcoreClient(Settings(api_key="k", **settings))  # type: ignore[arg-type]
    token = _current.set(_Operation(time.monotonic() + remaining))
    try:
        return client._timeouts(method)
    finally:
        _current.reset(token)
        client.close()


def test_connect_and_read_timeouts_together_fit_in_the_time_left() -> None:
    connect, read = timeouts(3.0, "POST", connect_timeout=5.0, timeout=60.0)
    assert connect + read <= 3.0 + 1e-6
    assert read >= MIN_ANSWER_SECONDS - 1e-6


@pytest.mark.parametrize("remaining", [-1.0, 0.0, 0.5 * MIN_ANSWER_SECONDS])
def test_no_post_when_the_time_left_cannot_cover_an_answer(remaining: float) -> None:
    with pytest.raises(DeadlineExceeded):
        timeouts(remaining, "POST", connect_timeout=5.0, timeout=60.0)


def test_a_read_may_still_use_the_last_moments_but_not_past_the_deadline() -> None:
    connect, read = timeouts(0.4, "GET", connect_timeout=5.0, timeout=60.0)
    assert connect + read <= 0.4 + 1e-6
    with pytest.raises(DeadlineExceeded):
        timeouts(0.0, "DELETE")


def test_every_try_urllib3_makes_gets_timeouts_from_the_time_left_then() -> None:
    # urllib3 clones the request's timeout for each of its tries (connect retries too, for
    # a POST as well): each clone is worked out from the time left at that moment, and a
    # POST try that the deadline rule forbids is never made.
    from gcore_pulumi.api.retry import DeadlineTimeout

    token = _current.set(_Operation(time.monotonic() + 3.0))
    try:
        timeout = DeadlineTimeout("POST", 5.0, 60.0)
        first = timeout.clone()
        assert first.connect_timeout + first.read_timeout <= 3.0 + 1e-6  # type: ignore[operator]
        _current.set(_Operation(time.monotonic() + 0.5 * MIN_ANSWER_SECONDS))
        with pytest.raises(DeadlineExceeded):
            timeout.clone()
        get = DeadlineTimeout("GET", 5.0, 60.0).clone()
        assert get.connect_timeout + get.read_timeout <= 0.5 + 1e-6  # type: ignore[operator]
    finally:
        _current.reset(token)


def test_a_refused_connection_is_given_up_at_once_only_to_loopback_before_any_answer() -> None:
    from types import SimpleNamespace

    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    from gcore_pulumi.api.retry import Reach

    refused = NewConnectionError(None, "Failed to establish a new connection")  # type: ignore[arg-type]
    refused.__cause__ = ConnectionRefusedError(111, "Connection refused")
    reach = Reach()
    assert reach.hopeless(refused, SimpleNamespace(host="127.0.0.1"))
    assert reach.hopeless(refused, SimpleNamespace(host="localhost"))
    assert reach.hopeless(refused, SimpleNamespace(host="::1"))
    assert not reach.hopeless(refused, SimpleNamespace(host="203.0.113.5"))  # retried as now
    assert not reach.hopeless(ConnectTimeoutError("timed out"), SimpleNamespace(host="127.0.0.1"))
    reach.answered = True  # something answered before: an emulator restarting is waited for
    assert not reach.hopeless(refused, SimpleNamespace(host="127.0.0.1"))


def test_a_wait_over_two_seconds_says_what_it_waits_for(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from gcore_pulumi.api.retry import PolicyRetry

    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    with caplog.at_level("WARNING", logger="gcore_pulumi"):
        PolicyRetry._wait(1.5, "backoff")
        assert caplog.messages == []
        PolicyRetry._wait(7.0, "the server's Retry-After")
    assert slept == [1.5, 7.0]
    assert caplog.messages == ["gcore: waiting 7s (the server's Retry-After) before the next try"]


def _refused() -> BaseException:
    from urllib3.exceptions import NewConnectionError

    error = NewConnectionError(None, "Failed to establish a new connection")  # type: ignore[arg-type]
    error.__cause__ = ConnectionRefusedError(111, "Connection refused")
    return error


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (_refused, "connection refused"),
        (
            lambda: __import__("urllib3").exceptions.NameResolutionError("h", None, "no name"),
            "DNS lookup failed",
        ),
        (
            lambda: __import__("urllib3").exceptions.ConnectTimeoutError("timed out"),
            "could not connect (timed out)",
        ),
        (
            lambda: __import__("urllib3").exceptions.ReadTimeoutError(None, "/", "read timed out"),
            "no answer before the read timeout (gcore:timeout)",
        ),
        (
            lambda: __import__("urllib3").exceptions.ProtocolError(
                "aborted", ConnectionResetError(104, "reset")
            ),
            "the connection was dropped before an answer came",
        ),
    ],
)
def test_a_retry_line_says_what_failed_in_words(make: Any, words: str) -> None:
    from gcore_pulumi.api.diagnosis import retry_cause

    assert retry_cause(make()) == words
