"""Reading is not owning: a rule read through ``SecurityGroupRule.get()`` (the engine's Read
with the given props as both inputs and state) is External, never managed by the stack. A
later create with ``adopt_existing`` of the same rule, in the same provider process, must
adopt it, not refuse it as "declared twice". A refresh of a managed rule still records it
as owned."""

from __future__ import annotations

import pytest

from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderRpcError

from .conftest import PROJECT, REGION, Engine, rule_inputs

SSH = {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22}


def test_a_rule_read_with_get_can_then_be_adopted(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    existing = emulator.add_rule(group, direction="ingress", **SSH)
    up = engine()
    get_props = {"group_id": group, "project_id": PROJECT, "region_id": REGION}
    read = up.read(existing["id"], get_props, get_props)  # SecurityGroupRule.get(...)
    assert read.id == existing["id"]

    rule_id, outputs = up.create(up.check(rule_inputs(group, adopt_existing=True, **SSH)).inputs)
    assert rule_id == existing["id"]
    assert outputs["adopt_existing"] is True
    assert [r["id"] for r in emulator.rules(group)] == [existing["id"]]


def test_a_refreshed_managed_rule_is_still_owned(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    """The other side: a refresh (Read with the old state) of a rule this stack manages
    keeps it from being adopted by another resource in the same process."""
    first = engine()
    rule_id, outputs = first.create(first.check(rule_inputs(group, **SSH)).inputs)
    inputs = first.check(rule_inputs(group, **SSH)).inputs

    up = engine()  # `pulumi up --refresh`: Read first, then the new resource's create
    assert up.read(rule_id, outputs, inputs).id == rule_id
    with pytest.raises(ProviderRpcError) as caught:
        up.create(up.check(rule_inputs(group, adopt_existing=True, **SSH)).inputs)
    assert "declared twice" in caught.value.details
    assert [r["id"] for r in emulator.rules(group)] == [rule_id]
