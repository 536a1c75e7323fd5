"""Fault injection for the emulator: the failures a real API client meets in production.

A provider that only ever sees clean 200s is untested where it matters: rate limiting
(429 with ``Retry-After``), gateway errors (502/503), slow answers, and above all the
ambiguous failures where the server *did* commit the change but the client never learned it
(``commit_then_502``, ``commit_then_drop``). Then there are answers that do not come from
Gcore at all, from a proxy or a wrong base URL: an HTML or empty 404, a redirect, a proxy's
HTML 502 (:data:`PROXY_FAULT_KINDS`). :class:`FaultInjector` decides, per request, whether
one of those happens; the server applies the decision.

Decisions are deterministic for a given seed and request sequence, so a failing test can be
replayed.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = [
    "ALL_FAULT_KINDS",
    "FAULT_KINDS",
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
]
#: Every fault kind, in declaration order.
ALL_FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
#: The kinds Gcore itself (or its own gateway) produces, which a careful client rides out by
#: retrying: what a soak run injects.
FAULT_KINDS: tuple[FaultKind, ...] = ALL_FAULT_KINDS[:7]
#: Answers from something that is not Gcore (a proxy, a wrong base URL): they prove nothing
#: about the resource. None of them handles the request.
PROXY_FAULT_KINDS: tuple[FaultKind, ...] = ALL_FAULT_KINDS[7:]
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
    * ``"html_502"``: answer 502 with a proxy's HTML page, change nothing.
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
        """Add a rule. ``method``/``path_prefix`` None (or method ``*``) match everything.

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
        normalized_method = None if method in (None, "*") else str(method).upper()
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
        """Add a rule written as ``KIND[:METHOD[:PROBABILITY[:PARAM]]]`` (see parse_fault_spec)."""
        kind, method, probability, retry_after, delay = parse_fault_spec(spec)
        self.add(
            kind,
            method=method,
            probability=probability,
            retry_after=retry_after,
            delay=delay,
            redirect_status=_redirect_status(spec) if kind == "redirect" else 308,
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


def parse_fault_spec(
    spec: str,
) -> tuple[FaultKind, str | None, float, str | None, float]:
    """Parse ``KIND[:METHOD[:PROBABILITY[:PARAM]]]`` as used by the command line.

    METHOD ``*`` (or empty) means any method; PROBABILITY defaults to 1. PARAM is the
    ``Retry-After`` value for ``429`` (it may contain colons, e.g. an HTTP date; ``none`` sends
    no header), the delay in seconds for ``slow`` and the status (301, 302, 303, 307, 308)
    for ``redirect``. Returns ``(kind, method, probability, retry_after, delay)`` (a redirect's
    status: :func:`_redirect_status`); raises ``ValueError`` when malformed.
    """
    parts = spec.strip().split(":", 3)
    kind_text = parts[0].strip()
    if kind_text not in ALL_FAULT_KINDS:
        raise ValueError(
            f"unknown fault kind {kind_text!r} in {spec!r}; expected {ALL_FAULT_KINDS}"
        )
    kind: FaultKind = next(k for k in ALL_FAULT_KINDS if k == kind_text)
    method_text = parts[1].strip() if len(parts) > 1 else "*"
    method = None if method_text in ("", "*") else method_text.upper()
    probability = 1.0
    if len(parts) > 2 and parts[2].strip():
        try:
            probability = float(parts[2])
        except ValueError:
            raise ValueError(f"bad probability {parts[2]!r} in {spec!r}") from None
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be within [0, 1] in {spec!r}")
    retry_after: str | None = "1"
    delay = 0.0
    if len(parts) > 3:
        param = parts[3].strip()
        if kind == "slow":
            try:
                delay = float(param)
            except ValueError:
                raise ValueError(f"bad delay {param!r} in {spec!r}") from None
            if not (math.isfinite(delay) and delay >= 0.0):
                raise ValueError(f"delay must be a finite number >= 0 in {spec!r}")
        elif kind == "429":
            retry_after = None if param.lower() in ("", "none") else param
        elif kind == "redirect":
            _redirect_status(spec)
        else:
            raise ValueError(f"fault kind {kind!r} takes no parameter (in {spec!r})")
    return kind, method, probability, retry_after, delay


def _redirect_status(spec: str) -> int:
    """The status PARAM of a ``redirect`` spec (308 when absent); ValueError if not one."""
    parts = spec.strip().split(":", 3)
    if len(parts) < 4 or not parts[3].strip():
        return 308
    text = parts[3].strip()
    if not text.isdigit() or int(text) not in REDIRECT_STATUSES:
        raise ValueError(
            f"bad redirect status {text!r} in {spec!r}; expected one of {sorted(REDIRECT_STATUSES)}"
        )
    return int(text)
