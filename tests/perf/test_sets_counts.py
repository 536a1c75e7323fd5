"""Issue 17 performance targets that are counts (exact, so no timing noise): a 50-rule set
is created in at most 15 requests, a change of one rule is one PATCH and one task, and a
refresh of the set is one GET. Times are in benchmarks/sets.py, as ratios."""

from __future__ import annotations

from benchmarks.sets import as_set


def test_a_50_rule_set_costs_few_requests_one_patch_per_change_and_one_read() -> None:
    made, change = as_set()
    assert made.requests <= 15, made
    assert (change.patches, change.tasks) == (1, 1), change
    assert change.refresh_requests == 1, change
