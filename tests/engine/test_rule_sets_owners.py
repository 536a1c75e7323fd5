"""One owner for a group's rules, through the engine protocol (issue 17, review): a
``SecurityGroupRule`` moved into its group's ``rules`` in one ``up`` is not deleted by the
engine's delete of the removed resource, which runs after the group's PATCH kept it; and
``adopt_id`` may not take over a group that another ``SecurityGroup`` of the stack manages."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from gcore_pulumi import SecurityGroupRuleProvider
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderProcess, ProviderRpcError

from .conftest import PROJECT, REGION, Groups

GROUP_TYPE = "pulumi-python:dynamic/gcore:SecurityGroup"
RULE_TYPE = "pulumi-python:dynamic/gcore:SecurityGroupRule"
RULE_PROVIDER = serialize_provider(SecurityGroupRuleProvider())
SSH = {"direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}
HTTPS = {"direction": "ingress", "protocol": "tcp", "port_range_min": 443, "port_range_max": 443}
RDP = {"direction": "ingress", "protocol": "tcp", "port_range_min": 3389, "port_range_max": 3389}


def group_urn(process: ProviderProcess, name: str = "web") -> str:
    return process.make_urn(name, GROUP_TYPE)


def rule_urn(process: ProviderProcess, name: str) -> str:
    return process.make_urn(name, RULE_TYPE)


def up_group(process: ProviderProcess, res: str = "web", **inputs: Any) -> tuple[str, Any]:
    checked = process.check(inputs, urn=group_urn(process, res))
    assert checked.failures == []
    group_id, outputs = process.create(checked.inputs, urn=group_urn(process, res))
    return str(group_id), outputs


def up_rule(process: ProviderProcess, name: str, **inputs: Any) -> tuple[str, Any]:
    checked = process.check({"__provider": RULE_PROVIDER, **inputs}, urn=rule_urn(process, name))
    assert checked.failures == []
    props = {**checked.inputs, "__provider": RULE_PROVIDER}
    rule_id, outputs = process.create(props, urn=rule_urn(process, name))
    return str(rule_id), outputs


def shape(rules: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(
        (r["direction"], r.get("protocol") or "any", r.get("port_range_min") or 0,
         r.get("description") or "")
        for r in rules
    )  # fmt: skip


def deletes(emulator: GcoreEmulator) -> list[str]:
    return [r.path for r in emulator.requests if r.method == "DELETE"]


# --- a SecurityGroupRule moved into the set ------------------------------------------------


def move_into_set(
    groups: Groups, emulator: GcoreEmulator, moved: dict[str, Any], rules: list[dict[str, Any]]
) -> tuple[str, Any, Any]:
    """Up 1: a group without ``rules`` and a SecurityGroupRule ``moved``. Up 2: the group
    declares ``rules``, the rule resource is gone from the program: the group's update
    runs, then the engine deletes the removed rule resource."""
    first = groups()
    group_id, group_out = up_group(first, name="web")
    rule_id, rule_out = up_rule(first, "moved", group_id=group_id, **moved)
    second = groups()
    news = second.check({"name": "web", "rules": rules}, urn=group_urn(second)).inputs
    assert second.diff(group_id, group_out, news, urn=group_urn(second)).changes == "some"
    updated = second.update(group_id, group_out, news, urn=group_urn(second))
    emulator.clear_log()
    props = {**rule_out, "__provider": RULE_PROVIDER}
    second.delete(rule_id, props, urn=rule_urn(second, "moved"))
    return group_id, updated, rule_id


def test_a_rule_moved_into_the_set_in_one_up_stays_at_gcore(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    group_id, updated, rule_id = move_into_set(groups, emulator, SSH, [SSH, HTTPS])
    assert rule_id in {r["id"] for r in updated["rules"]}  # the PATCH kept it, same id
    assert deletes(emulator) == []  # the removed resource's delete leaves it
    live = emulator.rules(group_id)
    assert shape(live) == shape([SSH, HTTPS])
    refresh = groups()
    read = refresh.read(group_id, updated, None, urn=group_urn(refresh))
    assert shape(read.outputs["rules"]) == shape([SSH, HTTPS])  # no drift on the next up


def test_a_rule_moved_into_the_set_under_a_new_id_stays_at_gcore(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    """The set's rule differs in description only: Gcore replaces the rule (a new id),
    and the old rule's delete must not touch the new one."""
    described = dict(SSH, description="admin ssh")
    group_id, updated, rule_id = move_into_set(groups, emulator, SSH, [described])
    assert rule_id not in {r["id"] for r in updated["rules"]}
    assert shape(emulator.rules(group_id)) == shape([described])


def test_a_rule_left_out_of_the_set_is_still_deleted(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    group_id, updated, _ = move_into_set(groups, emulator, RDP, [SSH])
    assert shape(emulator.rules(group_id)) == shape([SSH]) == shape(updated["rules"])
    assert len(deletes(emulator)) == 1  # sent, and found gone (the PATCH removed it)


def test_the_moved_rule_stays_when_its_delete_comes_in_a_later_up(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    """Up 2 updated the group but stopped before the rule's delete; up 3 diffs the group
    (no change) and deletes the removed rule resource."""
    first = groups()
    group_id, group_out = up_group(first, name="web")
    rule_id, rule_out = up_rule(first, "moved", group_id=group_id, **SSH)
    second = groups()
    news = second.check({"name": "web", "rules": [SSH]}, urn=group_urn(second)).inputs
    updated = second.update(group_id, group_out, news, urn=group_urn(second))
    third = groups()
    assert third.diff(group_id, updated, news, urn=group_urn(third)).changes == "none"
    emulator.clear_log()
    third.delete(rule_id, {**rule_out, "__provider": RULE_PROVIDER}, urn=rule_urn(third, "moved"))
    assert deletes(emulator) == [] and shape(emulator.rules(group_id)) == shape([SSH])


def test_a_failed_set_update_does_not_keep_a_removed_rules_delete_from_closing_it(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    """An interrupted migration left the set holding SSH and the SSH rule resource in the
    state. The next run drops both (``rules=[]``); the group's PATCH fails, and the engine
    goes on (``--continue-on-error``) to delete the removed rule resource: it must close the
    rule, since the set that held it was not applied and no resource declares it."""
    first = groups()
    group_id, group_out = up_group(first, name="web")
    rule_id, rule_out = up_rule(first, "moved", group_id=group_id, **SSH)
    second = groups()
    news = second.check({"name": "web", "rules": [SSH]}, urn=group_urn(second)).inputs
    updated = second.update(group_id, group_out, news, urn=group_urn(second))
    third = groups()
    emptied = third.check({"name": "web", "rules": []}, urn=group_urn(third)).inputs
    assert third.diff(group_id, updated, emptied, urn=group_urn(third)).changes == "some"
    emulator.faults.add("503", method="PATCH")
    with pytest.raises(ProviderRpcError):
        third.update(group_id, updated, emptied, urn=group_urn(third))
    third.delete(rule_id, {**rule_out, "__provider": RULE_PROVIDER}, urn=rule_urn(third, "moved"))
    assert emulator.rules(group_id) == []  # closed: nothing in the stack declares it


# --- adopt_id of a group the stack already manages --------------------------------------------

MANAGED = "is already managed by another SecurityGroup of this stack"


def writes(emulator: GcoreEmulator) -> list[str]:
    return [r.method for r in emulator.requests if r.method != "GET"]


@pytest.mark.parametrize("rules", [[SSH], None], ids=["set", "no-set"])
def test_adopt_id_of_a_group_another_resource_manages_is_refused_before_anything_is_sent(
    groups: Groups, emulator: GcoreEmulator, rules: list[dict[str, Any]] | None
) -> None:
    inputs = {"name": "web"} if rules is None else {"name": "web", "rules": rules}
    group_id, outputs = up_group(groups(), "a", **inputs)
    process = groups()  # the next up: a is compared, b is new and adopts a's group
    news = process.check(inputs, urn=group_urn(process, "a")).inputs
    assert process.diff(group_id, outputs, news, urn=group_urn(process, "a")).changes == "none"
    b = {"name": "other", "adopt_id": group_id, "rules": [RDP]}
    checked = process.check(b, urn=group_urn(process, "b"))
    assert [key for key, _ in checked.failures] == ["adopt_id"]
    assert f"security group 'web' ({group_id}) {MANAGED}" in checked.failures[0][1]
    emulator.clear_log()
    with pytest.raises(ProviderRpcError, match=MANAGED):  # a literal id checked before a
        process.create(checked.inputs, urn=group_urn(process, "b"))
    assert emulator.requests == []
    assert emulator.group(group_id)["name"] == "web"
    assert shape(emulator.rules(group_id)) == shape(rules or [])


def test_two_resources_adopting_one_group_the_second_is_refused(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    group_id = emulator.create_group(PROJECT, REGION, name="legacy")
    process = groups()
    first = process.check({"name": "web", "adopt_id": group_id}, urn=group_urn(process, "b"))
    second = process.check({"name": "web", "adopt_id": group_id}, urn=group_urn(process, "c"))
    assert first.failures == second.failures == []  # neither is known to manage it yet
    assert process.create(first.inputs, urn=group_urn(process, "b"))[0] == group_id
    emulator.clear_log()
    with pytest.raises(ProviderRpcError, match=MANAGED):
        process.create(second.inputs, urn=group_urn(process, "c"))
    assert emulator.requests == []


def test_a_get_does_not_manage_and_a_renamed_resource_hands_the_group_over(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    """``SecurityGroup.get`` of a group claims nothing; a resource renamed to one that adopts
    its group (the old one is not in the program: not compared, deleted at the end) keeps
    the group: the old resource's delete leaves it."""
    group_id, outputs = up_group(groups(), "old", name="web", rules=[SSH])
    process = groups()
    process.read(
        group_id, {"project_id": PROJECT, "region_id": REGION}, None, urn=group_urn(process)
    )
    new = {"name": "web", "adopt_id": group_id, "rules": [SSH]}
    checked = process.check(new, urn=group_urn(process, "new"))
    assert checked.failures == []
    assert process.create(checked.inputs, urn=group_urn(process, "new"))[0] == group_id
    process.delete(group_id, outputs, urn=group_urn(process, "old"))
    assert [g["id"] for g in emulator.groups()] == [group_id]
    assert shape(emulator.rules(group_id)) == shape([SSH])


def test_a_set_may_allow_its_own_members_by_the_groups_literal_id(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    """The documented way for a set to allow traffic from its own members (``web.id`` in its
    own ``rules`` is a cycle): after the first up, the group's id written as a literal."""
    group_id, outputs = up_group(groups(), name="web", rules=[SSH])
    members = {"direction": "ingress", "remote_group_id": group_id}
    process = groups()
    news = process.check({"name": "web", "rules": [SSH, members]}, urn=group_urn(process)).inputs
    updated = process.update(group_id, outputs, news, urn=group_urn(process))
    assert {r["remote_group_id"] for r in emulator.rules(group_id)} == {None, group_id}
    again = groups()
    news = again.check({"name": "web", "rules": [members, SSH]}, urn=group_urn(again)).inputs
    assert again.diff(group_id, updated, news, urn=group_urn(again)).changes == "none"
    read = again.read(group_id, updated, news, urn=group_urn(again))
    assert again.diff(group_id, read.outputs, news, urn=group_urn(again)).changes == "none"
