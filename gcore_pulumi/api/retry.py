"""The retry policy and the deadline, stated once, here.

* Every request has a connect and a read timeout, and every operation (one create, read or
  delete, with all its retries) an overall deadline (``gcore:deadline``).
* GET and DELETE are retried by urllib3's ``Retry`` (``PolicyRetry``) on connection errors,
  read timeouts, 429 and 5xx, with capped exponential backoff plus jitter, honouring
  ``Retry-After`` (seconds or HTTP date) up to ``max_retry_after``.
* Every try, urllib3's own retries included (it retries a refused connection for a POST
  too), gets timeouts worked out from the time left then (``DeadlineTimeout``), and no try
  of a POST is made that ``timeouts`` would not allow.
* A POST (create) is not idempotent and a PATCH wants its task followed, so their loops
  retry by hand; they count their tries against the same policy through ``Retries``, which
  waits exactly as urllib3 would (backoff, jitter, Retry-After, the deadline).
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import logging
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Final

from urllib3.exceptions import MaxRetryError, NewConnectionError
from urllib3.util import Timeout
from urllib3.util.retry import RequestHistory, Retry

from ..settings import is_loopback
from .diagnosis import retry_cause

if TYPE_CHECKING:
    import requests

    from ..settings import Settings

log = logging.getLogger("gcore_pulumi")

RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
MIN_ANSWER_SECONDS: Final = 1.0
"""A POST is sent only if the deadline leaves this long (or the read timeout) for its answer."""
LONG_WAIT: Final = 2.0
"""A wait longer than this gets a log line saying what is waited for."""
_PASSED: Final = "the deadline (gcore:deadline) has passed, so it was not sent"


class DeadlineExceeded(Exception):
    """The operation's overall deadline passed, or the next wait would pass it."""


@dataclass(frozen=True)
class _Operation:
    deadline: float

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


_current: contextvars.ContextVar[_Operation | None] = contextvars.ContextVar(
    "gcore_operation", default=None
)


@contextlib.contextmanager
def operation(seconds: float) -> Iterator[_Operation]:
    """Run under one deadline ``seconds`` from now; a step inside another operation (the
    reads that reconcile a create) shares the outer operation's deadline."""
    deadline = time.monotonic() + seconds
    outer = _current.get()
    if outer is not None:
        deadline = min(deadline, outer.deadline)
    current = _Operation(deadline)
    token = _current.set(current)
    try:
        yield current
    finally:
        _current.reset(token)


def remaining() -> float:
    """Seconds left before the current operation's deadline (endless outside one)."""
    current = _current.get()
    return current.remaining() if current is not None else math.inf


def timeouts(method: str, connect: float, read: float) -> tuple[float, float]:
    """(connect, read) timeouts that end within the operation's deadline.

    A POST is not sent at all unless the time left covers a normal answer
    (``MIN_ANSWER_SECONDS``, or the read timeout if smaller) after the connect timeout:
    a POST sent with a hopeless timeout may commit after the provider has given up.
    """
    current = _current.get()
    if current is None:
        return connect, read
    left = current.remaining()
    answer = min(read, MIN_ANSWER_SECONDS)
    if left <= answer and method == "POST":
        raise DeadlineExceeded(
            "the deadline (gcore:deadline) leaves too little time for an answer, so it was not sent"
            if left > 0
            else _PASSED
        )
    if left <= 0:
        raise DeadlineExceeded(_PASSED)
    if left <= answer:
        return left / 2, left / 2
    connect = min(connect, left - answer)
    return connect, min(read, left - connect)


class DeadlineTimeout(Timeout):
    """The (connect, read) timeouts of one request, worked out afresh from the time left
    for every try: urllib3 clones its timeout for each try it makes, so its own retries
    (connect retries, which it makes for a POST too) get timeouts that end by the deadline,
    and a try of a POST that the deadline rule forbids (``timeouts``) raises
    ``DeadlineExceeded`` before anything is sent."""

    def __init__(self, method: str, connect: float, read: float) -> None:
        self._asked = (method, connect, read)  # (Timeout keeps its own _connect and _read)
        first_connect, first_read = timeouts(method, connect, read)
        super().__init__(connect=first_connect, read=first_read)

    def clone(self) -> Timeout:
        connect, read = timeouts(*self._asked)
        return Timeout(connect=connect, read=read)


class PolicyRetry(Retry):
    """urllib3's Retry plus this provider's overall deadline, its own Retry-After parsing
    (capped at ``max_retry_after``; works with every urllib3 2.x) and one log line per retry."""

    max_retry_after: float = 60.0
    reach: Reach | None = None

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Any = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> PolicyRetry:
        if self.reach is not None and self.reach.hopeless(error, _pool):
            raise MaxRetryError(_pool, url, error) from error
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        current = _current.get()
        if current is not None and current.remaining() <= 0:
            raise DeadlineExceeded("the deadline (gcore:deadline) passed while retrying")
        last = new.history[-1]
        cause = f"HTTP {last.status}" if last.status else retry_cause(last.error)
        tries = len(new.history)
        log.warning(
            "gcore: %s %s got %s; retrying (retry %d of %s)",
            last.method,
            _path(last.url or ""),
            cause,
            tries,
            self._budget(),
        )
        return new

    def new(self, **kw: Any) -> PolicyRetry:
        fresh = super().new(**kw)
        fresh.max_retry_after = self.max_retry_after
        fresh.reach = self.reach
        return fresh

    def _budget(self) -> int | str:
        total = self.total if isinstance(self.total, int) else None
        return (total + len(self.history)) if total is not None else "?"

    def get_retry_after(self, response: Any) -> float | None:
        """Seconds the server asked to wait, or None when absent or unusable (then the
        normal backoff applies): only whole non-negative seconds or an HTTP date count."""
        header = response.headers.get("Retry-After") if response is not None else None
        seconds = parse_retry_after(header)
        return None if seconds is None else min(seconds, self.max_retry_after)

    def sleep_for_retry(self, response: Any) -> bool:
        delay = self.get_retry_after(response)
        if delay is None:
            return False
        self._wait(delay, "the server's Retry-After")
        return True

    def sleep(self, response: Any = None) -> None:
        delay, why = self.get_backoff_time(), "backoff"
        if self.respect_retry_after_header and response is not None:
            after = self.get_retry_after(response)
            if after is not None:
                delay, why = after, "the server's Retry-After"
        self._wait(delay, why)

    @staticmethod
    def _wait(delay: float, why: str) -> None:
        current = _current.get()
        if current is not None and current.remaining() <= delay:
            raise DeadlineExceeded(
                f"the next try would wait {delay:g}s ({why}), past the deadline (gcore:deadline)"
            )
        if delay > LONG_WAIT:
            log.warning("gcore: waiting %.0fs (%s) before the next try", delay, why)
        if delay > 0:
            time.sleep(delay)


class Reach:
    """Whether the API has ever answered this process. A refused connection to a loopback
    address before any answer means nothing listens there (the emulator not started, a
    wrong port): retrying would only make the user wait, so it is reported at once. Once
    something answered, a refusal (an emulator restarting) is retried as any other."""

    def __init__(self) -> None:
        self.answered = False

    def hopeless(self, error: object, pool: object) -> bool:
        host = getattr(pool, "host", None)
        return (
            not self.answered
            and isinstance(error, NewConnectionError)
            and isinstance(error.__cause__, ConnectionRefusedError)
            and isinstance(host, str)
            and is_loopback(host.strip("[]"))
        )


def policy(settings: Settings) -> PolicyRetry:
    """The policy for every request: retries, backoff and Retry-After from ``settings``.
    urllib3 itself retries only GET and DELETE; the POST and PATCH loops use ``Retries``."""
    retry = PolicyRetry(
        total=settings.max_retries,
        connect=settings.max_retries,
        read=settings.max_retries,
        status=settings.max_retries,
        other=0,
        redirect=0,
        allowed_methods=frozenset({"GET", "DELETE"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=settings.retry_backoff,
        backoff_max=settings.retry_backoff_max,
        backoff_jitter=settings.retry_backoff,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )
    retry.max_retry_after = settings.max_retry_after
    retry.reach = Reach()
    return retry


class Retries:
    """One hand-run loop's retry budget (a POST or PATCH): the policy's tries, counted
    here instead of by urllib3, and waited for exactly as urllib3 would."""

    def __init__(self, retry: PolicyRetry) -> None:
        self._retry = retry.new()

    @property
    def spent(self) -> bool:
        """No try is left in the budget (``gcore:maxRetries``)."""
        return isinstance(self._retry.total, int) and self._retry.total <= 0

    @property
    def tries(self) -> int:
        """Failed tries counted so far."""
        return len(self._retry.history)

    def count(self, method: str, path: str, response: requests.Response | None) -> None:
        """Count one more failed try of ``method`` ``path`` against the budget."""
        retry = self._retry
        status = response.status_code if response is not None else None
        history = (*retry.history, RequestHistory(method, path, None, status, None))
        total = retry.total - 1 if isinstance(retry.total, int) else retry.total
        self._retry = retry.new(total=total, history=history)

    def wait(self, response: requests.Response | None) -> None:
        """Wait before the next try as the policy says (the answer's Retry-After honoured);
        ``DeadlineExceeded`` when that wait would pass the deadline."""
        self._retry.sleep(response.raw if response is not None else None)


_WHOLE_SECONDS: Final = re.compile(r"[0-9]{1,9}")


def parse_retry_after(header: str | None) -> float | None:
    """A ``Retry-After`` value in seconds from now, or None if absent or not a valid value.

    Valid (RFC 9110): a whole number of seconds, or an HTTP date (a date in the past means
    0). Anything else (``1.5``, ``-1``, garbage) is ignored rather than trusted.
    """
    if header is None:
        return None
    text = header.strip()
    if _WHOLE_SECONDS.fullmatch(text):
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _path(url: str) -> str:
    """Path of a URL without scheme, host or query, for messages."""
    rest = url.split("://", 1)[-1]
    path = "/" + rest.split("/", 1)[1] if "/" in rest else rest
    return path.split("?", 1)[0]
