"""The task poll schedule: soon at first, then backing off to the cap; fast enough that a
1 s task is seen finished within 1.3 s in at most 10 polls."""

from __future__ import annotations

import itertools

from gcore_pulumi.tasks import FIRST_POLL, TaskFailedError, TaskPendingError, poll_offsets


def offsets(n: int, cap: float = 3.0) -> list[float]:
    return list(itertools.islice(poll_offsets(cap), n))


def test_first_poll_comes_soon() -> None:
    assert offsets(1) == [FIRST_POLL] and FIRST_POLL <= 0.2


def test_waits_grow_and_never_exceed_the_cap() -> None:
    times = offsets(60, cap=3.0)
    waits = [b - a for a, b in itertools.pairwise([0.0, *times])]
    assert all(later >= earlier - 1e-9 for earlier, later in itertools.pairwise(waits))
    assert max(waits) <= 3.0 + 1e-9
    assert abs(waits[-1] - 3.0) < 1e-9  # reaches the cap: a long task costs one poll every 3 s


def test_a_one_second_task_is_seen_within_1_3_s_in_at_most_10_polls() -> None:
    seen = next(i for i, t in enumerate(offsets(100), start=1) if t >= 1.0)
    assert seen <= 10
    assert offsets(seen)[-1] <= 1.2  # leaves room for the poll's and the GET's round trips


def test_a_smaller_cap_applies_from_the_start() -> None:
    assert offsets(3, cap=0.05) == [0.05, 0.1, 0.15000000000000002]


def test_task_errors_are_one_line_naming_the_task_and_gcore_reason() -> None:
    failed = str(TaskFailedError("t-1", "create_security_group", "Quota exceeded"))
    assert failed == "Gcore task t-1 (create_security_group) failed: Quota exceeded"
    pending = str(TaskPendingError("t-2", "RUNNING", 300.4, hint="Delete it"))
    assert "t-2" in pending and "RUNNING" in pending and "gcore:deadline" in pending
    assert pending.endswith("Delete it") and "\n" not in pending
