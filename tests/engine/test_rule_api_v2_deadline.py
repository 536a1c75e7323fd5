"""v2 rule create: the POST commits but its answer is lost, and the deadline comes while the
provider waits for the pending rule-create task to settle the ambiguity. The error says
that an earlier try may have created the rule (docs/reliability.md, Guarantees 5), so the
next `up`'s 409 is understood."""

from __future__ import annotations

import time

import pytest

from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderRpcError

from .conftest import Engine, rule_inputs

SSH = {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22}


@pytest.mark.parametrize("rule_api", ["v2"], indirect=True)
def test_deadline_while_settling_says_the_rule_may_exist(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    emulator.task_delays["create_security_group_rule"] = 2.5
    emulator.faults.add("commit_then_drop", method="POST", times=1)
    process = engine(**{"gcore:deadline": "1.2", "gcore:timeout": "0.5"})
    checked = process.check(rule_inputs(group, **SSH)).inputs
    with pytest.raises(ProviderRpcError) as caught:
        process.create(checked)
    message = caught.value.details.strip().splitlines()[-1]
    time.sleep(2.0)
    assert len(emulator.rules(group)) == 1  # the lost POST did make the rule
    assert "may have created" in message, message
