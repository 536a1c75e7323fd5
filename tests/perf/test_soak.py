"""Issue 3 soak at CI size: 100 rules up, refreshed and destroyed under ~20% API faults."""

from __future__ import annotations

import pytest

from benchmarks.soak import run_soak


@pytest.mark.slow
def test_soak_100_rules_under_faults_leaves_no_duplicate_orphan_or_lost_rule() -> None:
    result = run_soak(rules=100, fault_rate=0.2, seed=7, concurrency=8, retry_after="1")
    report = result.report()
    assert result.existing_after_up == 100, report
    assert result.duplicates == 0, report
    assert result.lost == 0, report
    assert result.orphans == 0, report
    assert result.failures == [], report
    assert sum(result.faults.values()) > 0, report  # the faults did happen
    assert result.ok, report


@pytest.mark.slow
def test_soak_with_uncached_refresh_puts_faults_on_every_read() -> None:
    result = run_soak(rules=50, fault_rate=0.2, seed=11, concurrency=8, retry_after="0",
                      read_cache_seconds=0)  # fmt: skip
    report = result.report()
    assert result.ok, report
    assert (result.existing_after_up, result.duplicates, result.lost, result.orphans) == (
        50, 0, 0, 0,
    ), report  # fmt: skip
    assert result.failures == [], report
