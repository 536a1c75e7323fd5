"""Group read coalescing: one read serves overlapping and near-simultaneous refreshes,
and nothing read before a write is served after it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from gcore_pulumi.group_cache import GroupReadCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_concurrent_reads_share_one_fetch() -> None:
    cache: GroupReadCache[int] = GroupReadCache(ttl=0.0)
    gate = threading.Event()
    calls = []

    def fetch() -> int:
        calls.append(1)
        gate.wait(5)
        return 7

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(cache.get, "g", fetch, f"rule-{n}") for n in range(8)]
        while cache.fetches == 0:
            pass
        gate.set()
        assert [f.result() for f in futures] == [7] * 8
    assert len(calls) <= 2  # all threads that arrived during the flight joined it


def test_fresh_result_reused_until_ttl() -> None:
    clock = Clock()
    cache: GroupReadCache[int] = GroupReadCache(ttl=2.0, clock=clock)
    values = iter(range(10))
    assert cache.get("g", lambda: next(values), "a") == 0
    clock.now = 1.5
    assert cache.get("g", lambda: next(values), "b") == 0
    clock.now = 2.5
    assert cache.get("g", lambda: next(values), "c") == 1
    assert cache.fetches == 2


def test_write_invalidates() -> None:
    cache: GroupReadCache[int] = GroupReadCache(ttl=60.0, clock=Clock())
    values = iter(range(10))
    assert cache.get("g", lambda: next(values), "a") == 0
    cache.invalidate("g")
    assert cache.get("g", lambda: next(values), "b") == 1
    assert cache.get("other", lambda: next(values), "c") == 2


def test_failed_fetch_is_not_cached() -> None:
    cache: GroupReadCache[int] = GroupReadCache(ttl=60.0, clock=Clock())

    def boom() -> int:
        raise RuntimeError("down")

    with pytest.raises(RuntimeError):
        cache.get("g", boom, "a")
    assert cache.get("g", lambda: 5, "b") == 5


def test_a_reader_is_served_once_so_a_second_refresh_sees_changes() -> None:
    cache: GroupReadCache[int] = GroupReadCache(ttl=60.0, clock=Clock())
    values = iter(range(10))
    assert cache.get("g", lambda: next(values), "rule-1") == 0
    assert cache.get("g", lambda: next(values), "rule-2") == 0  # same refresh: shared
    assert cache.get("g", lambda: next(values), "rule-1") == 1  # read again: a new command
    assert cache.get("g", lambda: next(values), None) == 2  # no reader: never shared


def test_a_reader_served_once_is_never_served_a_later_cached_answer() -> None:
    clock = Clock()
    cache: GroupReadCache[int] = GroupReadCache(ttl=600.0, clock=clock)
    answers = iter(range(100))
    assert cache.get("g", lambda: next(answers), "a") == 0
    assert cache.get("g", lambda: next(answers), "b") == 0  # first read of b: shared
    assert cache.get("g", lambda: next(answers), "b") == 1  # b again: a new answer
    # answer 1 was fetched for b after a's read; a's second read must still go to the API
    assert cache.get("g", lambda: next(answers), "a") == 2


def test_the_cache_forgets_idle_groups_and_readers() -> None:
    clock = Clock()
    cache: GroupReadCache[int] = GroupReadCache(ttl=1.0, clock=clock, reader_memory=10.0)
    for group in range(50):
        for reader in range(20):
            cache.get(group, lambda: 1, f"r{reader}")
    assert len(cache) == 50 and cache.readers(0) == 20
    clock.now = 100.0
    cache.get("fresh", lambda: 1, "x")
    assert len(cache) == 1 and cache.readers(0) == 0


def test_snapshots_are_shared_until_they_age_and_a_failed_one_is_not_kept() -> None:
    from gcore_pulumi.group_cache import SnapshotCache

    clock = Clock()
    cache: SnapshotCache[int] = SnapshotCache(max_age=30.0, clock=clock)
    fetched = iter(range(100))
    assert cache.get("g", lambda: next(fetched)) == 0
    clock.now = 29.0
    assert cache.get("g", lambda: next(fetched)) == 0
    clock.now = 31.0
    assert cache.get("g", lambda: next(fetched)) == 1

    def broken() -> int:
        raise RuntimeError("down")

    cache.forget("g")
    with pytest.raises(RuntimeError):
        cache.get("g", broken)
    assert cache.get("g", lambda: next(fetched)) == 2
    assert cache.fetches == 4


def test_a_snapshot_is_shared_only_by_creates_close_in_time() -> None:
    from gcore_pulumi.group_cache import SnapshotCache

    clock = Clock()
    cache: SnapshotCache[int] = SnapshotCache(max_age=30.0, clock=clock, reuse_gap=1.0)
    fetched = iter(range(100))
    with cache.used("g"):
        assert cache.get("g", lambda: next(fetched)) == 0
        with cache.used("g"):  # a second create while the first runs: shared
            assert cache.get("g", lambda: next(fetched)) == 0
    clock.now += 0.5
    with cache.used("g"):  # the next wave, right after: shared
        assert cache.get("g", lambda: next(fetched)) == 0
    clock.now += 1.5
    with cache.used("g"):  # started well after the last one ended: a fresh snapshot
        assert cache.get("g", lambda: next(fetched)) == 1
    assert cache.fetches == 2
