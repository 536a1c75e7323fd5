"""A group that owns its rule set, wired to Gcore, through the engine protocol (issue 17):
create sends the set in the one v2 POST; a rule added by hand is removed by ONE PATCH with
the complete set; an equivalent program plans no change; a PATCH whose answer is lost
leaves nothing duplicated or open; ``adopt_id`` takes a group over; the importer's program
plans no change; and one owner holds from the group's create on."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from gcore_pulumi import SecurityGroupRuleProvider
from gcore_pulumi.rule_set import live_rules_output
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderProcess, ProviderRpcError
from tests.unit.test_importer import run_generated

from .conftest import API_KEY, PROJECT, REGION, Groups

GROUP_TYPE = "pulumi-python:dynamic/gcore:SecurityGroup"
RULE_TYPE = "pulumi-python:dynamic/gcore:SecurityGroupRule"
V2 = f"/cloud/v2/security_groups/{PROJECT}/{REGION}"
V1 = f"/cloud/v1/securitygroups/{PROJECT}/{REGION}"
SSH = {"direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}
HTTPS = {"direction": "ingress", "protocol": "tcp", "port_range_min": 443, "port_range_max": 443}
EGRESS = {"direction": "egress"}
RDP = {"direction": "ingress", "protocol": "tcp", "port_range_min": 3389, "port_range_max": 3389}


def urn(process: ProviderProcess) -> str:
    return process.make_urn("web", GROUP_TYPE)


def up(process: ProviderProcess, **inputs: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    checked = process.check(inputs, urn=urn(process))
    assert checked.failures == []
    group_id, outputs = process.create(checked.inputs, urn=urn(process))
    return str(group_id), outputs, checked.inputs


def calls(emulator: GcoreEmulator) -> list[tuple[str, str]]:
    return [(r.method, r.path.split("?")[0]) for r in emulator.requests]


def bodies(emulator: GcoreEmulator, method: str) -> list[Any]:
    return [r.body for r in emulator.requests if r.method == method]


def shape(rules: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What a rule set holds, ids left out, in a stable order."""
    return sorted(
        (r["direction"], r.get("protocol") or "any", r.get("port_range_min") or 0,
         r.get("port_range_max") or 0)
        for r in rules
    )  # fmt: skip


def test_create_with_rules_is_one_post_one_task_and_one_read(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    group_id, outputs, _ = up(groups(), name="web", rules=[SSH, HTTPS, EGRESS])
    sent = calls(emulator)
    assert [c for c in sent if c[0] != "GET"] == [("POST", V2)]  # no per-rule request
    [task] = emulator.tasks("create_security_group")
    polls = {path for method, path in sent if path.startswith("/cloud/v1/tasks")}
    assert polls == {f"/cloud/v1/tasks/{task['id']}"}  # one task followed
    assert sent.count(("GET", f"{V1}/{group_id}")) == 1  # one read of the new group
    assert len(sent) == 1 + 1 + 1 + sum(1 for c in sent if c[1].startswith("/cloud/v1/tasks"))
    assert bodies(emulator, "POST")[0]["rules"] == [
        {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22,
         "port_range_max": 22, "description": ""},
        {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 443,
         "port_range_max": 443, "description": ""},
        {"direction": "egress", "ethertype": "IPv4", "protocol": None, "description": ""},
    ]  # fmt: skip
    live = emulator.rules(group_id)
    assert live_rules_output(outputs["rules"]) == live_rules_output(live)  # with their ids
    assert {r["id"] for r in outputs["rules"]} == {r["id"] for r in live}


def test_create_with_no_rules_given_as_empty_list(groups: Groups, emulator: GcoreEmulator) -> None:
    group_id, outputs, _ = up(groups(), name="web", rules=[])
    assert bodies(emulator, "POST")[0]["rules"] == []
    assert emulator.rules(group_id) == [] and outputs["rules"] == []


@pytest.mark.parametrize("kind", ["commit_then_drop", "commit_then_502"])
def test_a_create_whose_answer_is_lost_records_the_one_group_with_its_rules(
    groups: Groups, emulator: GcoreEmulator, kind: str
) -> None:
    emulator.faults.add(kind, method="POST", times=1)  # type: ignore[arg-type]
    group_id, outputs, _ = up(groups(), name="web", rules=[SSH, EGRESS])
    assert emulator.faults.injected == {kind: 1}
    assert [g["id"] for g in emulator.groups()] == [group_id]
    live = emulator.rules(group_id)
    assert shape(live) == shape([SSH, EGRESS])
    assert live_rules_output(outputs["rules"]) == live_rules_output(live)


def test_a_rule_added_by_hand_is_removed_by_one_patch_with_the_complete_set(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    group_id, outputs, _ = up(groups(), name="web", rules=[SSH, EGRESS])
    emulator.add_rule(group_id, **RDP)  # opened by hand
    refresh = groups()
    read = refresh.read(group_id, outputs, None, urn=urn(refresh))
    assert shape(read.outputs["rules"]) == shape([SSH, EGRESS, RDP])  # refresh shows it
    process = groups()
    news = process.check({"name": "web", "rules": [EGRESS, SSH]}, urn=urn(process)).inputs
    diff = process.diff(group_id, read.outputs, news, urn=urn(process))
    assert diff.changes == "some" and diff.replaces == []  # in place, never a new group
    emulator.clear_log()
    updated = process.update(group_id, read.outputs, news, urn=urn(process))
    sent = calls(emulator)
    assert [c for c in sent if c[0] != "GET"] == [("PATCH", f"{V2}/{group_id}")]
    [patch] = bodies(emulator, "PATCH")
    assert set(patch) == {"rules"} and len(patch["rules"]) == 2  # the complete set
    assert len(emulator.tasks("update_security_group")) == 1
    assert sent[-1] == ("GET", f"{V1}/{group_id}")  # read back: ids are never assumed
    live = emulator.rules(group_id)
    assert shape(live) == shape([EGRESS, SSH])  # the hand-made RDP rule is gone
    assert live_rules_output(updated["rules"]) == live_rules_output(live)


SPELLINGS = [
    # (as created, as written later): the same rule to Gcore
    (dict(SSH, remote_ip_prefix="203.0.113.7/32"), dict(SSH, remote_ip_prefix="203.0.113.7")),
    ({"direction": "ingress", "ethertype": "IPv6", "protocol": "ipv6-icmp"},
     {"direction": "ingress", "ethertype": "IPv6", "protocol": "icmp"}),
    ({"direction": "ingress", "protocol": "tcp"},
     {"direction": "ingress", "protocol": "tcp", "port_range_min": 1, "port_range_max": 65535}),
    (dict(HTTPS, remote_ip_prefix="0.0.0.0/0"), HTTPS),
]  # fmt: skip


def test_reordered_and_equivalent_spellings_plan_no_change(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    created = [first for first, _ in SPELLINGS]
    group_id, outputs, _ = up(groups(), name="web", rules=created)
    refresh = groups()
    read = refresh.read(group_id, outputs, None, urn=urn(refresh))
    later = list(reversed([second for _, second in SPELLINGS]))
    for state in (outputs, read.outputs):
        process = groups()
        news = process.check({"name": "web", "rules": later}, urn=urn(process)).inputs
        assert process.diff(group_id, state, news, urn=urn(process)).changes == "none"
    described = [dict(created[0], description="ssh"), *created[1:]]
    news = process.check({"name": "web", "rules": described}, urn=urn(process)).inputs
    assert process.diff(group_id, outputs, news, urn=urn(process)).changes == "some"


def test_a_rename_with_the_same_set_sends_no_rules(groups: Groups, emulator: GcoreEmulator) -> None:
    group_id, outputs, _ = up(groups(), name="web", rules=[SSH])
    process = groups()
    news = process.check({"name": "web-2", "rules": [SSH]}, urn=urn(process)).inputs
    process.update(group_id, outputs, news, urn=urn(process))
    assert bodies(emulator, "PATCH") == [{"name": "web-2"}]


@pytest.mark.parametrize("kind", ["commit_then_drop", "commit_then_502", "502", "drop"])
def test_a_patch_whose_answer_is_lost_duplicates_nothing_and_leaves_nothing_open(
    groups: Groups, emulator: GcoreEmulator, kind: str
) -> None:
    group_id, outputs, _ = up(groups(), name="web", rules=[SSH, RDP])
    process = groups()
    news = process.check({"name": "web", "rules": [SSH, HTTPS]}, urn=urn(process)).inputs
    emulator.faults.add(kind, method="PATCH", times=1)  # type: ignore[arg-type]
    updated = process.update(group_id, outputs, news, urn=urn(process))
    assert emulator.faults.injected == {kind: 1}
    live = emulator.rules(group_id)
    assert shape(live) == shape([SSH, HTTPS])  # RDP closed, nothing twice
    assert live_rules_output(updated["rules"]) == live_rules_output(live)
    assert all(t["state"] in ("FINISHED", "ERROR") for t in emulator.tasks())
    committed = kind.startswith("commit_then")
    # a committed PATCH is found applied (checked), not sent again; one that was not is
    assert len(bodies(emulator, "PATCH")) == (1 if committed else 2)


def test_omitted_to_given_takes_the_rules_over_and_given_to_omitted_leaves_them(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    group_id, outputs, _ = up(groups(), name="web")
    emulator.add_rule(group_id, **RDP)
    process = groups()
    news = process.check({"name": "web", "rules": [SSH]}, urn=urn(process)).inputs
    assert process.diff(group_id, outputs, news, urn=urn(process)).changes == "some"
    taken = process.update(group_id, outputs, news, urn=urn(process))
    assert shape(emulator.rules(group_id)) == shape([SSH]) and len(taken["rules"]) == 1
    emulator.add_rule(group_id, **RDP)
    emulator.clear_log()
    again = groups()
    plain = again.check({"name": "web"}, urn=urn(again)).inputs
    left = again.update(group_id, taken, plain, urn=urn(again))
    assert bodies(emulator, "PATCH") == []  # nothing is sent about the rules
    assert shape(emulator.rules(group_id)) == shape([SSH, RDP]) and "rules" not in left


# --- adopt_id -------------------------------------------------------------------------------


def test_adopt_id_takes_the_group_over_in_the_safe_order_and_destroy_deletes_it(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    group_id = emulator.create_group(PROJECT, REGION, name="legacy", tags={"old": "1"})
    emulator.add_rule(group_id, **RDP)
    emulator.add_read_only_tag(group_id, "gcore_managed", "true")
    process = groups()
    adopted, outputs, checked = up(process, name="web", description="front", adopt_id=group_id,
                                   tags={"env": "prod"}, rules=[SSH])  # fmt: skip
    assert adopted == group_id and outputs["adopt_id"] == group_id
    assert [c[0] for c in calls(emulator) if c[0] in ("POST", "PATCH")] == ["PATCH", "PATCH"]
    assert bodies(emulator, "PATCH") == [
        {"name": "web", "description": "front", "rules": [
            {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
             "port_range_min": 22, "port_range_max": 22, "description": ""}]},
        {"tags": {"env": "prod", "old": None}},
    ]  # fmt: skip
    assert [g["id"] for g in emulator.groups()] == [group_id]  # nothing was created
    assert shape(emulator.rules(group_id)) == shape([SSH]) and len(outputs["rules"]) == 1
    later = groups()
    other = dict(checked, adopt_id="024a29e9-b4b7-4c91-9a46-505be123d9f8")
    assert later.diff(group_id, outputs, other, urn=urn(later)).changes == "none"
    later.delete(group_id, outputs, urn=urn(later))
    assert emulator.groups() == []


def test_adopt_id_with_a_failing_task_leaves_the_tags_as_they_were(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    group_id = emulator.create_group(PROJECT, REGION, name="legacy", tags={"old": "1"})
    emulator.fail_tasks("update_security_group", error="Neutron refused the update")
    process = groups()
    checked = process.check({"name": "web", "adopt_id": group_id, "tags": {"env": "prod"}})
    with pytest.raises(ProviderRpcError, match="Neutron refused the update"):
        process.create(checked.inputs, urn=urn(process))
    live = emulator.group(group_id)
    assert live["name"] == "legacy"
    assert {t["key"]: t["value"] for t in live["tags_v2"]} == {"old": "1"}


def test_adopt_id_of_a_missing_group_fails_naming_it_and_creates_nothing(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    missing = "7f1c4c2e-3a55-4f5e-9a43-1f0e2b8c9d10"
    process = groups()
    checked = process.check({"name": "web", "adopt_id": missing.upper(), "rules": [SSH]})
    assert checked.failures == [] and checked.inputs["adopt_id"] == missing
    with pytest.raises(ProviderRpcError) as caught:
        process.create(checked.inputs, urn=urn(process))
    assert (
        f"no security group {missing} to adopt in project {PROJECT}, region {REGION}; "
        "check adopt_id"
    ) in caught.value.details
    assert emulator.groups() == []
    # the group's 404, then the group list proving it gone (a 404 alone proves nothing); no write
    assert [c[0] for c in calls(emulator)] == ["GET", "GET"]
    bad = process.check({"name": "web", "adopt_id": "web"})
    assert [key for key, _ in bad.failures] == ["adopt_id"]


def test_the_importers_program_adopts_the_group_with_no_change(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    group_id = emulator.create_group(PROJECT, REGION, name='legacy """ tier',
                                     description='say "hi"', tags={"env": "prod"})  # fmt: skip
    emulator.add_read_only_tag(group_id, "gcore_managed", "true")
    for fields in (RDP, dict(SSH, remote_ip_prefix="203.0.113.7/32", description="admin"),
                   {"direction": "egress", "ethertype": "IPv6"},
                   {"direction": "ingress", "protocol": "tcp"}):  # fmt: skip
        emulator.add_rule(group_id, **fields)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GCORE_")}
    printed = subprocess.run(
        [sys.executable, "-m", "gcore_pulumi", "import-group", group_id, "--project-id",
         str(PROJECT), "--region-id", str(REGION), "--base-url", emulator.base_url],
        capture_output=True, text=True, timeout=60, env={**env, "GCORE_API_KEY": API_KEY},
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    declared = run_generated(printed.stdout)
    program = {k: v for k, v in declared.items() if k != "resource"}
    before = emulator.group(group_id)
    emulator.clear_log()
    process = groups()  # `pulumi up` of the printed program: the adopting create
    adopted, outputs, checked = up(process, **program)
    assert adopted == group_id
    assert [m for m, _ in calls(emulator)] == ["GET"]  # nothing to change: nothing sent
    assert emulator.group(group_id) == before
    again = groups()  # the next `up`, and after a refresh
    news = again.check(program, urn=urn(again)).inputs
    assert again.diff(group_id, outputs, news, urn=urn(again)).changes == "none"
    read = again.read(group_id, outputs, checked, urn=urn(again))
    assert again.diff(group_id, read.outputs, news, urn=urn(again)).changes == "none"


# --- one owner ------------------------------------------------------------------------------


def test_a_rule_is_refused_on_a_group_that_its_create_made_a_set_owner(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    process = groups()
    group_id, _, _ = up(process, name="web", rules=[SSH])
    rule = {"__provider": serialize_provider(SecurityGroupRuleProvider()), "group_id": group_id,
            **RDP}  # fmt: skip
    rule_urn = process.make_urn("rdp", RULE_TYPE)
    checked = process.check(rule, urn=rule_urn)
    assert [key for key, _ in checked.failures] == ["group_id"]
    emulator.clear_log()
    with pytest.raises(ProviderRpcError, match="owns its rules as a set"):
        process.create(checked.inputs | {"__provider": rule["__provider"]}, urn=rule_urn)
    assert emulator.requests == [] and shape(emulator.rules(group_id)) == shape([SSH])
