"""No false drift: a group's ``revision_number`` and ``updated_at`` move whenever anything
in it moves, its rules included. A refresh right after an ``up`` that added (or deleted)
rules in the group reports no change for the unchanged group; a change to a declared value
made outside Pulumi still shows, with the live values."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gcore_pulumi import SecurityGroupProvider, SecurityGroupRuleProvider
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderProcess

from .conftest import PROJECT, REGION, clean_env, stack_config

GROUP_TYPE = "pulumi-python:dynamic/gcore:SecurityGroup"
RULE_TYPE = "pulumi-python:dynamic/gcore:SecurityGroupRule"
RULES = [
    {"direction": "ingress", "protocol": "tcp", "port_range_min": 443, "port_range_max": 443},
    {"direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22},
    {"direction": "egress"},
    {"direction": "egress", "ethertype": "IPv6"},
]


@pytest.fixture
def command(emulator: GcoreEmulator) -> Iterator[Any]:
    """One CLI command: a provider process per provider class, configured alike."""
    started: list[ProviderProcess] = []

    def start() -> tuple[ProviderProcess, ProviderProcess]:
        pair = []
        for provider in (SecurityGroupProvider(), SecurityGroupRuleProvider()):
            process = ProviderProcess(provider, env=clean_env()).start()
            started.append(process)
            process.configure(stack_config(emulator), secret_keys=["gcore:apiKey"])
            pair.append(process)
        return pair[0], pair[1]

    yield start
    for process in started:
        process.stop()


def up(command: Any, program: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any], list]:
    """`pulumi up` of a group and its rules: the group first, then every rule in it."""
    groups, rules = command()
    inputs = groups.check(program, urn=groups.make_urn("web", GROUP_TYPE)).inputs
    group_id, outputs = groups.create(inputs, urn=groups.make_urn("web", GROUP_TYPE))
    made = []
    for index, rule in enumerate(RULES):
        urn = rules.make_urn(f"rule-{index}", RULE_TYPE)
        made.append(
            rules.create(rules.check({"group_id": group_id, **rule}, urn=urn).inputs, urn=urn)
        )
    return group_id, outputs, inputs, made


PROGRAM = {"name": "web", "description": "front", "tags": {"env": "prod"}}


def test_refresh_right_after_up_that_added_rules_reports_no_change(
    command: Any, emulator: GcoreEmulator
) -> None:
    group_id, outputs, inputs, _ = up(command, PROGRAM)
    live = emulator.group(group_id)
    assert live["revision_number"] > outputs["revision_number"], "the rules moved the group"

    groups, _ = command()  # `pulumi refresh`
    read = groups.read(group_id, outputs, inputs, urn=groups.make_urn("web", GROUP_TYPE))
    assert read.outputs == outputs, "refresh reports the unchanged group as changed"
    assert read.inputs == inputs
    assert groups.diff(group_id, read.outputs, groups.check(PROGRAM).inputs).changes == "none"


def test_refresh_after_rules_were_deleted_reports_no_change_for_the_group(
    command: Any, emulator: GcoreEmulator
) -> None:
    group_id, outputs, inputs, made = up(command, PROGRAM)
    _, rules = command()
    for rule_id, rule_outputs in made[:2]:
        rules.delete(rule_id, rule_outputs)
    groups, _ = command()
    assert groups.read(group_id, outputs, inputs).outputs == outputs


def test_a_declared_value_changed_by_hand_shows_with_the_live_values(
    command: Any, emulator: GcoreEmulator
) -> None:
    group_id, outputs, inputs, _ = up(command, PROGRAM)
    emulator.rename_group(group_id, "renamed-by-hand")
    live = emulator.group(group_id)
    groups, _ = command()
    read = groups.read(group_id, outputs, inputs)
    assert read.outputs["name"] == "renamed-by-hand"
    assert read.outputs["revision_number"] == live["revision_number"]
    assert read.outputs.get("updated_at") == live["updated_at"]
    assert groups.diff(group_id, read.outputs, groups.check(PROGRAM).inputs).changes == "some"


def test_get_reads_every_value_live(command: Any, emulator: GcoreEmulator) -> None:
    group_id, _, _, _ = up(command, PROGRAM)
    live = emulator.group(group_id)
    groups, _ = command()
    props = {"project_id": PROJECT, "region_id": REGION}
    read = groups.read(group_id, props, props)  # SecurityGroup.get(...)
    assert read.outputs["revision_number"] == live["revision_number"]
