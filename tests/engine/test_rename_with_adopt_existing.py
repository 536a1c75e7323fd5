"""A resource renamed in the program without an alias: the engine creates the new resource,
then deletes the old one at the end of the same `pulumi up`, in the same provider process.
When the new resource adopts the old one's rule (following the 409's hint), the old
resource's delete leaves the rule alone: it belongs to the new resource now, and the stack
and Gcore agree that it is open."""

from __future__ import annotations

import pytest

from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderRpcError

from .conftest import RULE_APIS, Engine, rule_inputs

SSH = {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22}


@RULE_APIS
def test_renamed_resource_with_adopt_existing_keeps_its_rule(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    first = engine()  # the `up` that made resource "ssh"
    old_id, old_outputs = first.create(first.check(rule_inputs(group, **SSH)).inputs)

    up = engine()  # the `up` after renaming "ssh" -> "ssh-admin"
    with pytest.raises(ProviderRpcError) as caught:
        up.create(up.check(rule_inputs(group, **SSH)).inputs)
    assert "adopt_existing=True" in caught.value.details  # the hint the user then follows

    up = engine()
    new_id, _ = up.create(up.check(rule_inputs(group, adopt_existing=True, **SSH)).inputs)
    up.delete(old_id, old_outputs)  # the engine deletes the removed resource at the end
    live = [r["id"] for r in emulator.rules(group)]
    assert live == [new_id], f"the stack records rule {new_id}; Gcore has {live}"
