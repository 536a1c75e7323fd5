"""Coalesced reads of a security group, so refreshing N rules does not read the group N times.

Gcore has no single-rule GET: every refresh of a rule reads its whole group. Reads of the
same group that overlap share one request (single flight), and a finished read serves later
reads for a short freshness window. Any write to the group through this process bumps the
group's generation, so no read that starts after a write is served from before it.

A read serves each reader (a rule id) once: within one refresh the engine reads each rule
once, so a second read of the same rule is a new command (a new refresh, or a test that
changed something out of band) and goes to the API instead of seeing the old answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Flight(Generic[T]):
    generation: int
    started: float
    done: threading.Event = field(default_factory=threading.Event)
    value: T | None = None
    error: BaseException | None = None
    served: set[Hashable] = field(default_factory=set)


class GroupReadCache(Generic[T]):
    """Single-flight plus freshness window, keyed by group; thread-safe."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._flights: dict[Hashable, _Flight[T]] = {}
        self._generations: dict[Hashable, int] = {}
        self.fetches = 0
        """How many reads actually went to the API (for tests and benchmarks)."""

    def get(self, key: Hashable, fetch: Callable[[], T], reader: Hashable = None) -> T:
        """The group's value: joined, reused while fresh, or fetched by this caller.

        ``reader`` (a rule id) is served at most once by one fetch; None is never reused.
        """
        with self._lock:
            generation = self._generations.get(key, 0)
            flight = self._flights.get(key)
            reusable = (
                flight is not None
                and reader is not None
                and reader not in flight.served
                and flight.generation == generation
                and flight.error is None
                and (not flight.done.is_set() or self._clock() - flight.started <= self._ttl)
            )
            if not reusable:
                flight = _Flight(generation=generation, started=self._clock())
                self._flights[key] = flight
                self.fetches += 1
                owner = True
            else:
                owner = False
            assert flight is not None
            flight.served.add(reader)
        if owner:
            try:
                flight.value = fetch()
            except BaseException as error:
                flight.error = error
                raise
            finally:
                flight.done.set()
            return flight.value
        flight.done.wait()
        if flight.error is not None:
            # The owner's failure is reported to it; joiners try again for themselves.
            return self.get(key, fetch, reader)
        return flight.value  # type: ignore[return-value]

    def invalidate(self, key: Hashable) -> None:
        """Forget the group: the next read goes to the API (call on every write)."""
        with self._lock:
            self._generations[key] = self._generations.get(key, 0) + 1
            self._flights.pop(key, None)
