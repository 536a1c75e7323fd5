"""Issue 4 targets as regression tests: each fails only when its target regresses BADLY.

The bounds are generous on purpose (the machine is shared and noisy): exact where the figure
is a count (pickled size, HTTP requests, group reads), ratios against the minimal provider or
against a smaller N otherwise, never an absolute time. `benchmarks/run.py` measures the real
targets with their real bounds.
"""

from __future__ import annotations

import pytest

from benchmarks.minimal_provider import MinimalProvider
from benchmarks.run import (
    API_KEY,
    GROUP_PATH,
    PROJECT,
    REGION,
    blob_size,
    cold_start,
    interleaved,
    median,
    per_call,
    preview_requests,
    provider_process,
    refresh_reads,
    run_parallel,
    scaling_medians,
    up,
)
from gcore_pulumi import SecurityGroupRuleProvider
from gcore_pulumi.testing import GcoreEmulator

# side by side measurements: one worker runs them one after the other (the other worker's
# load, like any other load on the machine, falls on both sides of each ratio)
pytestmark = pytest.mark.xdist_group("perf")


def test_pickled_provider_is_at_most_200_characters() -> None:
    assert blob_size() <= 200
    # by reference, like the baseline: a class pickled by value would be kilobytes
    assert blob_size() <= blob_size(MinimalProvider()) + 50


def test_cold_start_is_not_far_behind_the_minimal_provider() -> None:
    samples = interleaved(cold_start, rounds=3, warmup=False)
    ratio = median(samples["provider"]) / median(samples["baseline"])
    assert ratio <= 2.5, samples


def test_per_call_overhead_is_not_far_behind_the_minimal_provider() -> None:
    samples = interleaved(lambda side: per_call(side, creates=60, concurrency=4), 3, False)
    ratio = median(samples["provider"]) / median(samples["baseline"])
    assert ratio <= 2.5, samples


def test_refresh_reads_each_group_rarely_and_never_stale() -> None:
    reads = refresh_reads(rules=50, threads=12)
    assert reads.stale == []
    assert reads.per_rule <= 0.2, f"{reads.group_gets} group GETs for {reads.rules} reads"


def test_proving_a_group_gone_costs_one_list_per_group_not_one_per_rule() -> None:
    # Issue 15.1: a rule is dropped only once its group is proven gone (a 404, then the
    # group list without it); the rules of one group share that proof.
    rules = 30
    with GcoreEmulator(api_key=API_KEY) as emulator:
        group = emulator.create_group(PROJECT, REGION)
        with provider_process(SecurityGroupRuleProvider(), emulator) as process:
            state = up(process, group, rules)
        emulator.delete_group(group)
        lists = f"{GROUP_PATH}{PROJECT}/{REGION}?"
        before = (emulator.count("GET", GROUP_PATH), emulator.count("GET", lists))
        with provider_process(SecurityGroupRuleProvider(), emulator) as process:
            reads, errors = run_parallel(lambda i: process.read(*state[i]), rules, 12)
        gets = emulator.count("GET", GROUP_PATH) - before[0]
        listed = emulator.count("GET", lists) - before[1]
    assert errors == [] and [read.id for read in reads] == [""] * rules
    assert listed <= 0.2 * rules and gets <= 0.4 * rules, (gets, listed)


def test_preview_makes_no_http_requests() -> None:
    assert preview_requests(rules=10) == 0


def test_per_rule_cost_stays_flat_from_10_to_100_rules() -> None:
    scale = scaling_medians((10, 100), rounds=2)
    small, large = scale[10], scale[100]
    for phase in ("create", "refresh", "destroy"):
        assert getattr(large, phase) <= 4 * getattr(small, phase), (phase, small, large)
