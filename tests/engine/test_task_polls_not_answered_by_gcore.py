"""A create whose task polls get answers that are not Gcore's (an HTML 404 from a proxy, a
redirect) settles as after a lost answer: the group (or v2 rule) the accepted POST made is
found and recorded, never left unrecorded for the next `up` to make again."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from gcore_pulumi import SecurityGroupProvider
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderProcess, ProviderRpcError

from .conftest import clean_env, stack_config

TASK = "/cloud/v1/tasks/"


@pytest.fixture
def process(emulator: GcoreEmulator) -> Iterator[ProviderProcess]:
    with ProviderProcess(SecurityGroupProvider(), env=clean_env()) as started:
        started.configure(stack_config(emulator), secret_keys=["gcore:apiKey"])
        yield started


@pytest.mark.parametrize("kind", ["html_404", "redirect", "empty_404"])
def test_group_made_by_accepted_post_is_recorded_or_named(
    process: ProviderProcess, emulator: GcoreEmulator, kind: str
) -> None:
    emulator.task_delays["create_security_group"] = 0.2
    emulator.faults.add(kind, method="GET", path_prefix=TASK, times=1)
    checked = process.check({"name": "web"})
    try:
        group_id, _ = process.create(checked.inputs)
    except ProviderRpcError as error:
        time.sleep(0.4)
        emulator.finish_tasks()
        made = [g["id"] for g in emulator.groups() if g["name"] == "web"]
        # an orphan exists; the error must at least say so (as the deadline case does)
        assert not made or ("does not record" in error.details or "may exist" in error.details), (
            f"orphan group {made} and the error does not say so: {error.details.strip()}"
        )
    else:
        assert [g["id"] for g in emulator.groups()] == [group_id]


@pytest.mark.parametrize("rule_api", ["v2"], indirect=True)
def test_v2_rule_task_poll_proxy_answer_says_rule_may_exist(
    engine, emulator: GcoreEmulator, group: str
) -> None:
    from tests.engine.conftest import rule_inputs

    process = engine()
    emulator.task_delays["create_security_group_rule"] = 0.2
    emulator.faults.add("html_404", method="GET", path_prefix=TASK, times=1)
    inputs = process.check(rule_inputs(group, protocol="tcp", port_range_min=22,
                                       port_range_max=22)).inputs  # fmt: skip
    try:
        rule_id, _ = process.create(inputs)
    except ProviderRpcError as error:
        time.sleep(0.4)
        made = emulator.rules(group)
        assert not made or "may have created" in error.details, (
            f"rule {made[0]['id']} exists, unrecorded; the error does not say so: "
            f"{error.details.strip().splitlines()[-1]}"
        )
    else:
        assert [r["id"] for r in emulator.rules(group)] == [rule_id]
