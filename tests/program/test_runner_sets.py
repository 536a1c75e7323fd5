"""examples/web-tier-set through the program runner against the emulator (issue 17): the
whole firewall is one group created in one POST with its rules; a rule opened by hand shows
on refresh as drift of the group's rules; destroy leaves nothing."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.runner import EXIT_OK, RunReport, run

KEY = "runner-sets-key-5d2e8b"
PROGRAM = Path(__file__).resolve().parents[2] / "examples" / "web-tier-set"
GROUP = "pulumi-python:dynamic/gcore:SecurityGroup"


@pytest.fixture
def api() -> Iterator[GcoreEmulator]:
    with GcoreEmulator(api_key=KEY) as emulator:
        yield emulator


def run_example(api: GcoreEmulator, **kwargs: object) -> tuple[RunReport, str]:
    out = io.StringIO()
    config = api.stack_config(1, 1, **{"gcore:retryBackoff": "0.01", "adminCidr": "10.1.0.0/16"})
    env = {k: v for k, v in os.environ.items() if not k.startswith("GCORE_")}
    report = run(PROGRAM, config=config, secret_keys=["gcore:apiKey"], out=out, env=env,
                 **kwargs)  # type: ignore[arg-type]  # fmt: skip
    return report, out.getvalue()


def test_web_tier_set_is_one_group_made_in_one_post_and_leaves_nothing(
    api: GcoreEmulator,
) -> None:
    live: list[dict[str, object]] = []

    def after_step(step: str, report: RunReport) -> None:
        if step == "up":
            [group] = api.groups()
            live.extend(api.rules(str(group["id"])))

    report, out = run_example(api, after_step=after_step)
    assert report.status == EXIT_OK, out
    assert [r.type_token for r in report.created] == [GROUP]
    assert len(live) == 7 and report.outputs["rule_count"] == 7
    assert "10.1.0.0/16" in {r["remote_ip_prefix"] for r in live}
    assert api.count("POST") == 1  # the group with all its rules; no per-rule request
    assert api.count("PATCH") == 0 and "No drift." in out
    assert api.groups() == [] and api.all_rules() == []


def test_a_rule_opened_by_hand_shows_as_drift_of_the_groups_rules(api: GcoreEmulator) -> None:
    def after_step(step: str, report: RunReport) -> None:
        if step == "up":
            [group] = report.created
            api.add_rule(str(group.id), direction="ingress", protocol="tcp",
                         port_range_min=3389, port_range_max=3389)  # fmt: skip

    report, out = run_example(api, after_step=after_step)
    assert report.status == EXIT_OK, out
    [drift] = report.drifted
    assert drift.resource.type_token == GROUP and "rules" in drift.changes
    assert api.groups() == [] and api.all_rules() == []
