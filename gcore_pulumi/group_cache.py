"""Coalesced reads of a security group, so N rules do not cost N reads of their group.

Gcore has no single-rule GET: every refresh of a rule reads its whole group. Two caches
live here, both keyed by group and thread-safe:

``GroupReadCache`` (refresh). Reads of the same group that overlap share one request
(single flight), and a finished read serves later reads for a short freshness window. Any
write to the group through this process bumps the group's generation, so no read that
starts after a write is served from before it. Each reader (a rule id) is served by a
cached answer at most ONCE: a rule read a second time in the process (a new refresh, or a
test that changed something out of band) always gets an answer fetched after that second
read began.

``SnapshotCache`` (create). Before a create POSTs, it needs the group's rules as they were
before the POST was sent, to tell a rule its own POST made from one that was already there.
Any snapshot finished before the POST is sent is valid, so concurrent creates in one group
share one (single flight, reused while younger than its ``max_age``); writes do NOT
invalidate it (a rule made after the snapshot is by definition not "already there").

Neither grows without bound: entries older than their window are swept out.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Final, Generic, TypeVar, cast

T = TypeVar("T")

READER_MEMORY_SECONDS: Final = 3600.0
"""How long a served reader is remembered: a re-read within this time always goes to the API."""


@dataclass
class _Flight(Generic[T]):
    generation: int
    started: float
    done: threading.Event = field(default_factory=threading.Event)
    value: T | None = None
    error: BaseException | None = None


@dataclass
class _Group:
    generation: int = 0
    flight: _Flight[object] | None = None
    served: dict[Hashable, float] = field(default_factory=dict)
    """Readers served so far, with when; a served reader is never served from cache again."""
    touched: float = 0.0


def _fly(flight: _Flight[T], fetch: Callable[[], T]) -> T:
    """Run the fetch that ``flight``'s joiners wait for, and publish its value or error."""
    try:
        flight.value = fetch()
    except BaseException as error:
        flight.error = error
        raise
    finally:
        flight.done.set()
    return flight.value


class GroupReadCache(Generic[T]):
    """Single-flight plus freshness window, keyed by group; thread-safe."""

    def __init__(
        self,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        reader_memory: float = READER_MEMORY_SECONDS,
    ) -> None:
        self._ttl = ttl
        self._clock = clock
        self._memory = max(reader_memory, ttl)
        self._lock = threading.Lock()
        self._groups: dict[Hashable, _Group] = {}
        self._next_sweep = 0.0
        self.fetches = 0
        """How many reads actually went to the API (for tests and benchmarks)."""

    def get(self, key: Hashable, fetch: Callable[[], T], reader: Hashable = None) -> T:
        """The group's value: joined, reused while fresh, or fetched by this caller.

        ``reader`` (a rule id) is served from a cached or in-flight answer only on its first
        read; None is never served from cache.
        """
        with self._lock:
            now = self._clock()
            self._sweep(now)
            entry = self._groups.setdefault(key, _Group())
            entry.touched = now
            flight = entry.flight
            reusable = (
                flight is not None
                and reader is not None
                and reader not in entry.served
                and flight.generation == entry.generation
                and flight.error is None
                and (not flight.done.is_set() or now - flight.started <= self._ttl)
            )
            if not reusable:
                flight = _Flight(generation=entry.generation, started=now)
                entry.flight = flight
                self.fetches += 1
                owner = True
            else:
                owner = False
            assert flight is not None
            if reader is not None:
                entry.served[reader] = now
        if owner:
            return cast(T, _fly(flight, fetch))
        flight.done.wait()
        if flight.error is not None:
            # The owner's failure is reported to it; a joiner tries once more for itself.
            with self._lock:
                entry.served.pop(reader, None)
            return self.get(key, fetch, reader)
        return flight.value  # type: ignore[return-value]

    def get_fresh(self, key: Hashable, fetch: Callable[[], T], not_before: float) -> T:
        """The group as read by a request sent at or after ``not_before`` (a clock reading):
        an answer in flight or finished that started then or later is shared, else this
        caller fetches. For reads that must see a write that ended at ``not_before``."""
        with self._lock:
            now = self._clock()
            entry = self._groups.setdefault(key, _Group())
            entry.touched = now
            flight = entry.flight
            owner = not (
                flight is not None
                and flight.error is None
                and flight.started >= not_before
                and (not flight.done.is_set() or now - flight.started <= self._ttl)
            )
            if owner:
                flight = _Flight(generation=entry.generation, started=now)
                entry.flight = flight
                self.fetches += 1
            assert flight is not None
        if owner:
            return cast(T, _fly(flight, fetch))
        flight.done.wait()
        if flight.error is not None:
            return self.get_fresh(key, fetch, not_before)
        return flight.value  # type: ignore[return-value]

    def invalidate(self, key: Hashable) -> None:
        """Forget the group's answer: the next read goes to the API (call on every write)."""
        with self._lock:
            entry = self._groups.get(key)
            if entry is not None:
                entry.generation += 1
                entry.flight = None

    def __len__(self) -> int:
        """Groups (with their readers) currently remembered."""
        with self._lock:
            return len(self._groups)

    def readers(self, key: Hashable) -> int:
        """Readers remembered for one group (for tests)."""
        with self._lock:
            entry = self._groups.get(key)
            return 0 if entry is None else len(entry.served)

    def _sweep(self, now: float) -> None:
        """Drop readers and groups not seen for ``reader_memory`` (call with the lock)."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + min(self._memory, 60.0)
        horizon = now - self._memory
        for key in list(self._groups):
            entry = self._groups[key]
            entry.served = {r: t for r, t in entry.served.items() if t >= horizon}
            busy = entry.flight is not None and not entry.flight.done.is_set()
            if not entry.served and entry.touched < horizon and not busy:
                del self._groups[key]


class SnapshotCache(Generic[T]):
    """Shared "before the POST" snapshots of a group, reused while younger than ``max_age``."""

    def __init__(
        self,
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
        reuse_gap: float = 1.0,
    ) -> None:
        self._max_age = max_age
        self._reuse_gap = reuse_gap
        self._clock = clock
        self._lock = threading.Lock()
        self._flights: dict[Hashable, _Flight[T]] = {}
        self._users: dict[Hashable, int] = {}
        self._ended: dict[Hashable, float] = {}
        self.fetches = 0
        """How many snapshots actually went to the API (for tests and benchmarks)."""

    @contextlib.contextmanager
    def used(self, key: Hashable) -> Iterator[None]:
        """One create's use of the group's snapshot. A snapshot is shared by creates that
        overlap in time, or that start within ``reuse_gap`` seconds after the last of them
        ended (the engine sends creates in quick waves); a create that starts later takes a
        fresh one. A rule someone else made in between is then in its "before", and never
        taken for this create's own after a lost answer."""
        with self._lock:
            users = self._users.get(key, 0)
            ended = self._ended.pop(key, None)
            if users == 0 and (ended is None or self._clock() - ended > self._reuse_gap):
                self._flights.pop(key, None)
            self._users[key] = users + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._users.pop(key) - 1
                if left:
                    self._users[key] = left
                else:
                    self._ended[key] = self._clock()

    def get(self, key: Hashable, fetch: Callable[[], T]) -> T:
        """A snapshot finished before this call returns: reused, joined or fetched."""
        with self._lock:
            now = self._clock()
            for other in [k for k, f in self._flights.items() if self._stale(f, now)]:
                del self._flights[other]
            flight = self._flights.get(key)
            owner = flight is None
            if flight is None:
                flight = _Flight(generation=0, started=now)
                self._flights[key] = flight
                self.fetches += 1
        if owner:
            try:
                return _fly(flight, fetch)
            except BaseException:
                with self._lock:
                    if self._flights.get(key) is flight:
                        del self._flights[key]
                raise
        flight.done.wait()
        if flight.error is not None:
            return self.get(key, fetch)
        return flight.value  # type: ignore[return-value]

    def forget(self, key: Hashable) -> None:
        """Drop the group's snapshot (the group was found gone)."""
        with self._lock:
            self._flights.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._flights)

    def _stale(self, flight: _Flight[T], now: float) -> bool:
        return flight.done.is_set() and (
            flight.error is not None or now - flight.started > self._max_age
        )
