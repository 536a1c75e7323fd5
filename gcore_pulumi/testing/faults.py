"""Fault injection for the emulator: the failures a real API client meets in production.

A provider that only ever sees clean 200s is untested where it matters: rate limiting
(429 with ``Retry-After``), gateway errors (502/503), slow answers, and above all the
ambiguous failures where the server *did* commit the change but the client never learned it
(``commit_then_502``, ``commit_then_drop``). Then there are answers that do not come from
Gcore at all, from a proxy or a wrong base URL: an HTML or empty 404, a redirect, a proxy's
HTML 502 (:data:`PROXY_FAULT_KINDS`). And there are success answers broken on the way after
Gcore committed the change: a cut-off body, a proxy's HTML 200 (:data:`BROKEN_ANSWER_KINDS`).
:class:`FaultInjector` decides, per request, whether one of those happens; the server applies
the decision.

Decisions are deterministic for a given seed and request sequence, so a failing test can be
replayed.
"""

from __future__ import annotations

import email.utils
import math
import random
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = [
    "ALL_FAULT_KINDS",
    "BROKEN_ANSWER_KINDS",
    "FAULT_KINDS",
    "FAULT_METHODS",
    "PROXY_FAULT_KINDS",
    "REDIRECT_STATUSES",
    "Fault",
    "FaultInjector",
    "FaultKind",
    "parse_fault_spec",
]

FaultKind = Literal[
    "429",
    "502",
    "503",
    "slow",
    "commit_then_502",
    "commit_then_drop",
    "drop",
    "html_404",
    "empty_404",
    "redirect",
    "html_502",
    "commit_then_truncate",
    "commit_then_html_200",
]
#: Every fault kind, in declaration order.
ALL_FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
#: The kinds Gcore itself (or its own gateway) produces, which a careful client rides out by
#: retrying: what a soak run injects.
FAULT_KINDS: tuple[FaultKind, ...] = ALL_FAULT_KINDS[:7]
#: Answers from something that is not Gcore (a proxy, a wrong base URL): they prove nothing
#: about the resource. None of them handles the request.
PROXY_FAULT_KINDS: tuple[FaultKind, ...] = ALL_FAULT_KINDS[7:11]
#: Broken success answers: Gcore handled the request (it may have committed a change), then
#: something on the way (a proxy or load balancer that gave up mid-body, or one that answers
#: its own page) broke the answer. As ambiguous as a lost answer; what a soak run injects with
#: ``broken_answers`` on.
BROKEN_ANSWER_KINDS: tuple[FaultKind, ...] = ALL_FAULT_KINDS[11:]
#: The methods a fault may be limited to (the ones the emulator serves).
FAULT_METHODS: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: Statuses a ``redirect`` fault may answer with.
REDIRECT_STATUSES: frozenset[int] = frozenset({301, 302, 303, 307, 308})
#: Where a ``redirect`` points by default: the same path on a port nothing listens on.
DEFAULT_REDIRECT_LOCATION = "http://127.0.0.1:9"


@dataclass(frozen=True)
class Fault:
    """What the server must do to one request.

    ``kind`` meanings:

    * ``"429"``: answer 429 (with ``Retry-After: retry_after`` unless None), change nothing;
    * ``"502"`` / ``"503"``: answer that status, change nothing;
    * ``"slow"``: sleep ``delay`` seconds, then handle the request normally;
    * ``"commit_then_502"``: handle the request (state changes), then answer 502 instead;
    * ``"commit_then_drop"``: handle the request, then close the socket without answering;
    * ``"drop"``: close the socket without answering and without handling the request;
    * ``"html_404"``: answer 404 with an HTML page (``text/html``), change nothing;
    * ``"empty_404"``: answer 404 with an empty body, change nothing;
    * ``"redirect"``: answer ``redirect_status`` with ``Location`` = ``location`` + the
      request's path and query, change nothing;
    * ``"html_502"``: answer 502 with a proxy's HTML page, change nothing;
    * ``"commit_then_truncate"``: handle the request (state changes), then send its answer
      with a ``Content-Length`` larger than the bytes sent (half the body, none if it has
      none) and close the connection: a body cut off on the way (a bodiless 204 stays whole);
    * ``"commit_then_html_200"``: handle the request, then answer 200 with a proxy's HTML page
      (``text/html``) instead of Gcore's JSON.
    """

    kind: FaultKind
    retry_after: str | None = "1"
    delay: float = 0.0
    redirect_status: int = 308
    location: str = DEFAULT_REDIRECT_LOCATION


@dataclass
class _Rule:
    kind: FaultKind
    method: str | None
    path_prefix: str | None
    probability: float
    times: int | None
    schedule: frozenset[int] | None
    retry_after: str | None
    delay: float
    redirect_status: int
    location: str
    matched: int = 0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method.upper():
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)


class FaultInjector:
    """A thread-safe list of fault rules consulted once per authenticated request.

    Every rule whose method and path prefix match a request counts that request (its 1-based
    position is what ``schedule`` refers to). The first matching rule that is due fires; a
    rule is due when the position is in its ``schedule`` (if given), it has fired fewer than
    ``times`` times (if given), and a draw from the seeded RNG falls under ``probability``.
    """

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._rules: list[_Rule] = []
        self._injected: dict[str, int] = {}

    def add(
        self,
        kind: FaultKind,
        *,
        method: str | None = None,
        path_prefix: str | None = None,
        probability: float = 1.0,
        times: int | None = None,
        schedule: Sequence[int] | None = None,
        retry_after: str | None = "1",
        delay: float = 0.0,
        redirect_status: int = 308,
        location: str = DEFAULT_REDIRECT_LOCATION,
    ) -> None:
        """Add a rule. ``method``/``path_prefix`` None (or method ``*``) match everything;
        a method is one of :data:`FAULT_METHODS`, in any case.

        ``retry_after`` is sent verbatim in the ``Retry-After`` header of a 429 (seconds or an
        HTTP date, or any text; None sends no header). ``delay`` is the sleep of a ``slow``
        fault. ``redirect_status`` (301, 302, 303, 307 or 308) and ``location`` (scheme and
        host the request's path is appended to) shape a ``redirect``.
        Raises ``ValueError`` on a nonsensical rule rather than silently never firing.
        """
        if kind not in ALL_FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {ALL_FAULT_KINDS}")
        if redirect_status not in REDIRECT_STATUSES:
            choices = sorted(REDIRECT_STATUSES)
            raise ValueError(f"redirect_status must be one of {choices}, got {redirect_status!r}")
        if not (isinstance(probability, (int, float)) and 0.0 <= probability <= 1.0):
            raise ValueError(f"probability must be within [0, 1], got {probability!r}")
        if times is not None and times < 0:
            raise ValueError(f"times must be >= 0, got {times}")
        if schedule is not None and any(not isinstance(i, int) or i < 1 for i in schedule):
            raise ValueError(f"schedule holds 1-based request positions, got {list(schedule)}")
        if not (math.isfinite(delay) and delay >= 0.0):
            raise ValueError(f"delay must be a finite number >= 0, got {delay!r}")
        normalized_method = _method(method)
        rule = _Rule(
            kind=kind,
            method=normalized_method,
            path_prefix=path_prefix,
            probability=float(probability),
            times=times,
            schedule=None if schedule is None else frozenset(schedule),
            retry_after=retry_after,
            delay=float(delay),
            redirect_status=redirect_status,
            location=location.rstrip("/"),
        )
        with self._lock:
            self._rules.append(rule)

    def add_spec(self, spec: str) -> None:
        """Add a rule written as ``KIND[:METHOD[:PROBABILITY[:PARAM]]]``; a spec that would
        never do anything is refused with ``ValueError`` (see :func:`parse_fault_spec`)."""
        parsed = _parse_spec(spec)
        self.add(
            parsed.kind,
            method=parsed.method,
            probability=parsed.probability,
            retry_after=parsed.retry_after,
            delay=parsed.delay,
            redirect_status=parsed.redirect_status,
        )

    def clear(self) -> None:
        """Remove every rule and reset the ``injected`` counters."""
        with self._lock:
            self._rules.clear()
            self._injected.clear()

    @property
    def injected(self) -> dict[str, int]:
        """How many faults of each kind were injected so far (a copy)."""
        with self._lock:
            return dict(self._injected)

    def decide(self, method: str, path: str) -> Fault | None:
        """Consult the rules for one request; return the fault to inject, if any."""
        with self._lock:
            chosen: _Rule | None = None
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue
                rule.matched += 1
                if chosen is not None:
                    continue
                if rule.schedule is not None and rule.matched not in rule.schedule:
                    continue
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                    continue
                chosen = rule
            if chosen is None:
                return None
            chosen.fired += 1
            self._injected[chosen.kind] = self._injected.get(chosen.kind, 0) + 1
            return Fault(
                kind=chosen.kind,
                retry_after=chosen.retry_after,
                delay=chosen.delay,
                redirect_status=chosen.redirect_status,
                location=chosen.location,
            )


@dataclass(frozen=True)
class _Spec:
    """A parsed ``KIND[:METHOD[:PROBABILITY[:PARAM]]]``: the arguments of one :meth:`add`."""

    kind: FaultKind
    method: str | None
    probability: float
    retry_after: str | None
    delay: float
    redirect_status: int


def parse_fault_spec(
    spec: str,
) -> tuple[FaultKind, str | None, float, str | None, float]:
    """Parse ``KIND[:METHOD[:PROBABILITY[:PARAM]]]`` as used by the command line.

    METHOD is one of :data:`FAULT_METHODS` in any case, or ``*`` (or empty) for any method.
    PROBABILITY (default 1) is more than 0 and at most 1. PARAM is, for ``429``, the
    ``Retry-After`` header: whole seconds, an HTTP date (it may contain colons) or ``none``
    for no header (default 1); for ``slow`` (where it is required), the delay in seconds,
    more than 0; for ``redirect``, the status (301, 302, 303, 307 or 308; default 308). No
    other kind takes a PARAM. Returns ``(kind, method, probability, retry_after, delay)``.

    A spec that would never do anything is refused: ``ValueError`` with a one-line message
    naming the spec, what is wrong and what is expected.
    """
    parsed = _parse_spec(spec)
    return parsed.kind, parsed.method, parsed.probability, parsed.retry_after, parsed.delay


def _parse_spec(spec: str) -> _Spec:
    parts = [part.strip() for part in spec.strip().split(":", 3)]
    try:
        kind = _kind(parts[0])
        method = _method(parts[1] if len(parts) > 1 else "*")
        probability = _probability(parts[2]) if len(parts) > 2 and parts[2] else 1.0
        retry_after: str | None = "1"
        delay = 0.0
        redirect_status = 308
        param = parts[3] if len(parts) > 3 else None
        if kind == "slow":
            if param is None:
                raise ValueError("slow needs its delay in seconds as PARAM, e.g. slow:*:1:0.5")
            delay = _delay(param)
        elif param is None:
            pass
        elif not param:
            raise ValueError("the PARAM after the last ':' is empty; give one or drop the ':'")
        elif kind == "429":
            retry_after = _retry_after(param)
        elif kind == "redirect":
            redirect_status = _status(param)
        else:
            raise ValueError(
                f"kind {kind} takes no PARAM, got {param!r} (only 429, slow and redirect do)"
            )
    except ValueError as exc:
        raise ValueError(f"fault {spec!r}: {exc}") from None
    return _Spec(kind, method, probability, retry_after, delay, redirect_status)


def _kind(text: str) -> FaultKind:
    for kind in ALL_FAULT_KINDS:
        if kind == text:
            return kind
    raise ValueError(f"unknown fault kind {text!r}; expected one of {', '.join(ALL_FAULT_KINDS)}")


def _method(text: str | None) -> str | None:
    """``text`` upper-cased, or None (any method) for None, ``*`` or ""; ValueError if unknown."""
    if text is None or text.strip() in ("", "*"):
        return None
    method = text.strip().upper()
    if method not in FAULT_METHODS:
        raise ValueError(
            f"unknown method {text!r}; expected {', '.join(FAULT_METHODS)} (any case) or *"
        )
    return method


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 < value <= 1.0:
        raise ValueError(
            f"probability {text!r} must be a number more than 0 and at most 1 "
            "(the share of matching requests that fail)"
        )
    return value


def _delay(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"the delay of slow must be a number of seconds more than 0, got {text!r}")
    return value


def _retry_after(text: str) -> str | None:
    if text.lower() == "none":
        return None
    if re.fullmatch(r"[0-9]+", text):
        return text
    try:
        email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        raise ValueError(
            f"the Retry-After of 429 must be whole seconds (e.g. 2), an HTTP date "
            f"(e.g. Wed, 21 Oct 2015 07:28:00 GMT) or none, got {text!r}"
        ) from None
    return text


def _status(text: str) -> int:
    if not re.fullmatch(r"[0-9]+", text) or int(text) not in REDIRECT_STATUSES:
        choices = ", ".join(str(s) for s in sorted(REDIRECT_STATUSES))
        raise ValueError(f"the status of redirect must be one of {choices}, got {text!r}")
    return int(text)
