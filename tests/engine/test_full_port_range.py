"""Canonical like Neutron: a port protocol's whole range, 1..65535, is stored by Gcore as no
range (null/null) and is the same rule as one without ports (``_make_canonical_port_range``).

Driven as the engine drives the provider: an unchanged program with 1..65535 plans no change
after a refresh (which reads null/null back), ``adopt_existing`` finds a rule stored without
ports, and state written by the previous version (1/65535 in inputs and outputs, or Gcore's
null/null in the outputs) plans no change and refreshes without drift."""

from __future__ import annotations

from typing import Any

import pytest

from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderProcess, ProviderRpcError

from .conftest import RULE_APIS, Engine, rule_inputs

pytestmark = RULE_APIS

PORT_PROTOCOLS = pytest.mark.parametrize("protocol", ["tcp", "udp", "sctp", "dccp", "udplite"])
SOME_PORT_PROTOCOLS = pytest.mark.parametrize("protocol", ["tcp", "udplite"])
VOLATILE = ("created_at", "updated_at", "revision_number")


def whole_range(group: str, protocol: str, **extra: Any) -> dict[str, Any]:
    return rule_inputs(group, protocol=protocol, port_range_min=1, port_range_max=65535, **extra)


def stored(props: dict[str, Any]) -> dict[str, Any]:
    """Props as the engine keeps them (a null property is not stored)."""
    return {key: value for key, value in props.items() if value is not None}


def plan(up: ProviderProcess, rule_id: str, outputs: dict[str, Any], program: dict[str, Any]):
    return up.diff(rule_id, outputs, up.check(program).inputs)


@PORT_PROTOCOLS
def test_an_unchanged_program_plans_no_change_after_refresh(
    engine: Engine, emulator: GcoreEmulator, group: str, protocol: str
) -> None:
    program = whole_range(group, protocol)
    up = engine()
    inputs = up.check(program).inputs
    rule_id, outputs = up.create(inputs)
    stored = [(r["port_range_min"], r["port_range_max"]) for r in emulator.rules(group)]
    assert stored == [(None, None)], "Gcore stores the whole range as no range"

    refresh = engine()
    read = refresh.read(rule_id, outputs, inputs)
    assert read.id == rule_id
    assert read.outputs == outputs, "a refresh right after up shows no change"

    up = engine()
    assert plan(up, rule_id, read.outputs, program).changes == "none"


@SOME_PORT_PROTOCOLS
@pytest.mark.parametrize("stored_ports", [(1, 65535), (None, None)], ids=["as-written", "as-gcore"])
def test_state_written_by_the_previous_version_plans_no_change(
    engine: Engine, emulator: GcoreEmulator, group: str, protocol: str, stored_ports: tuple
) -> None:
    """The previous version stored 1/65535 in the inputs, and in the outputs either the same
    (the emulator echoed it) or Gcore's answer, null/null."""
    live = emulator.add_rule(group, direction="ingress", protocol=protocol)
    up = engine()
    inputs = up.check(whole_range(group, protocol)).inputs
    low, high = stored_ports
    old_outputs = {
        **inputs,
        "port_range_min": low,
        "port_range_max": high,
        "security_group_id": group,
        **{k: live[k] for k in VOLATILE},
    }
    assert plan(up, live["id"], old_outputs, whole_range(group, protocol)).changes == "none"

    read = engine().read(live["id"], old_outputs, inputs)
    assert read.outputs == stored(old_outputs), "refreshing old state reports no drift"
    after = engine()
    assert plan(after, live["id"], read.outputs, whole_range(group, protocol)).changes == "none"


@SOME_PORT_PROTOCOLS
def test_adopt_existing_matches_a_rule_stored_without_ports(
    engine: Engine, emulator: GcoreEmulator, group: str, protocol: str
) -> None:
    existing = emulator.add_rule(group, direction="ingress", protocol=protocol)
    up = engine()
    with pytest.raises(ProviderRpcError) as caught:
        up.create(up.check(whole_range(group, protocol)).inputs)
    assert existing["id"] in caught.value.details and "adopt_existing" in caught.value.details

    up = engine()
    rule_id, outputs = up.create(up.check(whole_range(group, protocol, adopt_existing=True)).inputs)
    assert rule_id == existing["id"]
    assert (outputs["port_range_min"], outputs["port_range_max"]) == (1, 65535)
    assert [r["id"] for r in emulator.rules(group)] == [existing["id"]]


@SOME_PORT_PROTOCOLS
def test_a_rule_without_ports_adopts_one_made_with_the_whole_range(
    engine: Engine, emulator: GcoreEmulator, group: str, protocol: str
) -> None:
    existing = emulator.add_rule(
        group, direction="egress", protocol=protocol, port_range_min=1, port_range_max=65535
    )
    up = engine()
    program = rule_inputs(group, direction="egress", protocol=protocol, adopt_existing=True)
    rule_id, outputs = up.create(up.check(program).inputs)
    assert rule_id == existing["id"]
    assert (outputs.get("port_range_min"), outputs.get("port_range_max")) == (None, None)


def test_a_narrower_range_is_still_a_different_rule(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    """Only the whole range folds: 1..65534 (or ICMP type 1 code 255) stays as written."""
    up = engine()
    inputs = up.check(rule_inputs(group, protocol="tcp")).inputs
    rule_id, outputs = up.create(inputs)
    narrower = rule_inputs(group, protocol="tcp", port_range_min=1, port_range_max=65534)
    assert plan(up, rule_id, outputs, narrower).replaces == ["port_range_min", "port_range_max"]
    other_id, _ = up.create(up.check(narrower).inputs)
    assert len(emulator.rules(group)) == 2 and other_id != rule_id
