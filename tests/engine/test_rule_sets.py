"""A group's ``rules`` through the engine protocol: preview checks each rule and sends
nothing; refresh shows a rule added by hand; diff compares sets; and one owner: a
SecurityGroupRule on a group whose rules a SecurityGroup owns is refused, also on a later
up where the group is only diffed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from gcore_pulumi import SecurityGroupProvider, SecurityGroupRuleProvider
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import UNKNOWN, ProviderProcess, ProviderRpcError

from .conftest import PROJECT, REGION, clean_env, stack_config

GROUP_TYPE = "pulumi-python:dynamic/gcore:SecurityGroup"
RULE_TYPE = "pulumi-python:dynamic/gcore:SecurityGroupRule"
SSH = {"direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}
RULE_PROVIDER = serialize_provider(SecurityGroupRuleProvider())


@pytest.fixture
def process(emulator: GcoreEmulator) -> Iterator[ProviderProcess]:
    """One provider process, as the CLI starts for a command: it serves groups and rules."""
    started = ProviderProcess(SecurityGroupProvider(), env=clean_env())
    started.start()
    started.configure(stack_config(emulator), secret_keys=["gcore:apiKey"])
    yield started
    started.stop()


def group_urn(process: ProviderProcess) -> str:
    return process.make_urn("web", GROUP_TYPE)


def rule_urn(process: ProviderProcess) -> str:
    return process.make_urn("rdp", RULE_TYPE)


def managed_state(emulator: GcoreEmulator, process: ProviderProcess) -> tuple[str, dict[str, Any]]:
    """A group whose rules the stack owns, as its state reads after a refresh."""
    group_id = emulator.create_group(PROJECT, REGION, name="web")
    emulator.add_rule(group_id, **SSH)
    olds = {"name": "web", "project_id": PROJECT, "region_id": REGION, "rules": []}
    read = process.read(group_id, olds, None, urn=group_urn(process))
    return group_id, read.outputs


def test_preview_names_each_bad_rule_and_duplicates_and_sends_nothing(
    process: ProviderProcess, emulator: GcoreEmulator
) -> None:
    rules = [SSH, dict(SSH, port_range_min=0), dict(SSH, description="twin"), UNKNOWN]
    checked = process.check({"name": "web", "rules": rules}, urn=group_urn(process))
    keys = [key for key, _ in checked.failures]
    assert keys == ["rules[1].port_range_min", "rules[2]"]
    assert "duplicate of rules[0]" in dict(checked.failures)["rules[2]"]
    assert emulator.requests == []


def test_preview_finds_a_duplicate_whose_description_alone_is_unknown(
    process: ProviderProcess, emulator: GcoreEmulator
) -> None:
    """Gcore's duplicate key leaves the description out: a twin whose description is not
    known until up is a certain duplicate, named in preview. One whose key is not fully
    known (its prefix unknown) may be another rule: not refused."""
    twin = dict(SSH, description=UNKNOWN)
    checked = process.check({"name": "web", "rules": [SSH, twin]}, urn=group_urn(process))
    assert [key for key, _ in checked.failures] == ["rules[1]"]
    assert "duplicate of rules[0]" in checked.failures[0][1]
    maybe = dict(SSH, remote_ip_prefix=UNKNOWN)
    checked = process.check({"name": "web", "rules": [SSH, maybe]}, urn=group_urn(process))
    assert checked.failures == []
    assert emulator.requests == []


def test_refresh_shows_a_rule_added_by_hand_and_up_plans_an_update(
    process: ProviderProcess, emulator: GcoreEmulator
) -> None:
    group_id, outputs = managed_state(emulator, process)
    assert [(r["protocol"], r["port_range_min"]) for r in outputs["rules"]] == [("tcp", 22)]
    assert outputs["rules"][0]["id"] == emulator.rules(group_id)[0]["id"]
    program = process.check({"name": "web", "rules": [dict(SSH, remote_ip_prefix="0.0.0.0/0")]})
    assert process.diff(group_id, outputs, program.inputs, urn=group_urn(process)).changes == "none"

    emulator.add_rule(group_id, direction="ingress", protocol="tcp", port_range_min=3389,
                      port_range_max=3389)  # fmt: skip
    again = process.read(group_id, outputs, None, urn=group_urn(process))
    assert len(again.outputs["rules"]) == 2
    diff = process.diff(group_id, again.outputs, program.inputs, urn=group_urn(process))
    assert diff.changes == "some" and diff.replaces == []


def test_a_group_without_rules_reads_as_before(
    process: ProviderProcess, emulator: GcoreEmulator
) -> None:
    group_id = emulator.create_group(PROJECT, REGION, name="web")
    emulator.add_rule(group_id, **SSH)
    olds = {"name": "web", "project_id": PROJECT, "region_id": REGION}
    read = process.read(group_id, olds, None, urn=group_urn(process))
    assert "rules" not in read.outputs and "rules" not in read.inputs


def rule_props(group_id: str) -> dict[str, Any]:
    return {"__provider": RULE_PROVIDER, "group_id": group_id, "direction": "ingress",
            "protocol": "tcp", "port_range_min": 3389, "port_range_max": 3389}  # fmt: skip


def test_a_rule_on_a_group_owned_as_a_set_is_refused_when_the_group_is_only_diffed(
    process: ProviderProcess, emulator: GcoreEmulator
) -> None:
    group_id, outputs = managed_state(emulator, process)
    # A later `up`, in a fresh process: the group is only diffed, then the rule is checked.
    later = ProviderProcess(SecurityGroupProvider(), env=clean_env())
    later.start()
    try:
        later.configure(stack_config(emulator), secret_keys=["gcore:apiKey"])
        news = later.check({"name": "web", "rules": [SSH]}, urn=group_urn(later)).inputs
        assert later.diff(group_id, outputs, news, urn=group_urn(later)).changes == "none"
        emulator.clear_log()
        checked = later.check(rule_props(group_id), urn=rule_urn(later))
        [(key, reason)] = checked.failures
        assert key == "group_id"
        assert "'web'" in reason and group_id in reason and "rules" in reason
        # at the latest at create, before anything is sent
        with pytest.raises(ProviderRpcError, match="owns its rules as a set"):
            later.create(checked.inputs | {"__provider": RULE_PROVIDER}, urn=rule_urn(later))
        assert emulator.requests == []
        assert len(emulator.rules(group_id)) == 1
    finally:
        later.stop()


def test_a_group_that_stops_owning_its_rules_allows_separate_rules(
    process: ProviderProcess, emulator: GcoreEmulator
) -> None:
    group_id, outputs = managed_state(emulator, process)
    news = process.check({"name": "web"}, urn=group_urn(process)).inputs
    assert process.diff(group_id, outputs, news, urn=group_urn(process)).changes == "some"
    checked = process.check(rule_props(group_id), urn=rule_urn(process))
    assert checked.failures == []
    rule_id, _ = process.create(
        checked.inputs | {"__provider": RULE_PROVIDER}, urn=rule_urn(process)
    )
    assert rule_id in {r["id"] for r in emulator.rules(group_id)}


def test_a_read_only_get_of_an_owned_group_does_not_release_it(
    process: ProviderProcess, emulator: GcoreEmulator
) -> None:
    group_id, outputs = managed_state(emulator, process)
    news = process.check({"name": "web", "rules": [SSH]}, urn=group_urn(process)).inputs
    assert process.diff(group_id, outputs, news, urn=group_urn(process)).changes == "none"
    got = process.read(group_id, {"project_id": PROJECT, "region_id": REGION}, None,
                       urn=process.make_urn("looked-up", GROUP_TYPE))  # fmt: skip
    checked = process.check(rule_props(group_id), urn=rule_urn(process))
    assert [key for key, _ in checked.failures] == ["group_id"]
    # .get() reads every value live, the rules too (with their ids)
    [live] = emulator.rules(group_id)
    assert [(r["id"], r["port_range_min"]) for r in got.outputs["rules"]] == [(live["id"], 22)]


def test_a_get_of_a_group_without_a_set_shows_its_rules_and_claims_nothing(
    process: ProviderProcess, emulator: GcoreEmulator
) -> None:
    group_id = emulator.create_group(PROJECT, REGION, name="web")
    emulator.add_rule(group_id, **SSH)
    got = process.read(group_id, {"project_id": PROJECT, "region_id": REGION}, None,
                       urn=process.make_urn("looked-up", GROUP_TYPE))  # fmt: skip
    assert [r["port_range_min"] for r in got.outputs["rules"]] == [22]
    assert process.check(rule_props(group_id), urn=rule_urn(process)).failures == []
    # its refresh (the engine passes the last outputs, rules included) claims nothing either
    again = process.read(group_id, got.outputs, None,
                         urn=process.make_urn("looked-up", GROUP_TYPE))  # fmt: skip
    assert [r["port_range_min"] for r in again.outputs["rules"]] == [22]
    checked = process.check(rule_props(group_id), urn=rule_urn(process))
    assert checked.failures == []
    rule_id, outputs = process.create(
        checked.inputs | {"__provider": RULE_PROVIDER}, urn=rule_urn(process)
    )
    process.delete(rule_id, outputs | {"__provider": RULE_PROVIDER}, urn=rule_urn(process))
    assert [r["port_range_min"] for r in emulator.rules(group_id)] == [22]  # RDP deleted
