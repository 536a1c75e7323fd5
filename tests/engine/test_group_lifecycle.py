"""The security group's lifecycle over gRPC, as the engine drives it: preview, up, refresh,
update, destroy, and `.get()` reads. Each CLI command gets its own provider process."""

from __future__ import annotations

from typing import Any

import pytest

from gcore_pulumi import SecurityGroupRuleProvider
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import UNKNOWN, ProviderProcess, ProviderRpcError

from .conftest import PROJECT, REGION, Groups, clean_env, stack_config

GROUP_TYPE = "pulumi-python:dynamic/gcore:SecurityGroup"
V2 = f"/cloud/v2/security_groups/{PROJECT}/{REGION}"


def urn(process: ProviderProcess, name: str = "web") -> str:
    return process.make_urn(name, GROUP_TYPE)


def up(process: ProviderProcess, **inputs: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    checked = process.check(inputs, urn=urn(process))
    assert checked.failures == []
    group_id, outputs = process.create(checked.inputs, urn=urn(process))
    return group_id, outputs, checked.inputs


def bodies(emulator: GcoreEmulator, method: str, prefix: str = V2) -> list[Any]:
    return [r.body for r in emulator.requests if r.method == method and r.path.startswith(prefix)]


def test_preview_with_unknowns_checks_the_rest_and_sends_nothing(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    group_id, outputs, _ = up(groups(), name="web", tags={"env": "prod"})
    emulator.clear_log()
    preview = groups()
    checked = preview.check({"name": UNKNOWN, "tags": {"env": UNKNOWN, "bad key": "v"}})
    assert [key for key, _ in checked.failures] == ["tags"]
    checked = preview.check({"name": UNKNOWN, "tags": {"env": UNKNOWN}})
    assert checked.failures == [] and checked.inputs["name"] == UNKNOWN
    diff = preview.diff(group_id, outputs, checked.inputs)
    assert diff.changes == "some" and diff.replaces == []
    moved = preview.check({"name": "web", "tags": {"env": "prod"}, "project_id": UNKNOWN})
    assert preview.diff(group_id, outputs, moved.inputs).replaces == ["project_id"]
    assert emulator.requests == []


def test_create_sends_empty_rules_and_outputs_the_live_group(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    group_id, outputs, _ = up(groups(), name="web")
    [body] = bodies(emulator, "POST")
    assert body == {"name": "web", "rules": []}
    live = emulator.group(group_id)
    assert live["security_group_rules"] == []  # not Gcore's default template
    assert outputs == {
        "name": "web", "description": "", "tags": {}, "project_id": PROJECT,
        "region_id": REGION, "region": live["region"], "revision_number": live["revision_number"],
        "created_at": live["created_at"], "updated_at": live["updated_at"],
    }  # fmt: skip


def test_unchanged_program_then_refresh_show_no_change(groups: Groups) -> None:
    inputs = {"name": "web", "description": "front", "tags": {"env": "prod"}}
    group_id, outputs, checked = up(groups(), **inputs)
    preview = groups()
    assert preview.diff(group_id, outputs, preview.check(inputs).inputs).changes == "none"
    refresh = groups()
    read = refresh.read(group_id, outputs, checked)
    assert read.id == group_id and read.outputs == outputs and read.inputs == checked
    assert refresh.diff(group_id, read.outputs, refresh.check(inputs).inputs).changes == "none"


def test_refresh_brings_back_out_of_band_changes_and_up_puts_them_back(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    program = {"name": "web", "description": "front", "tags": {"env": "prod"}}
    group_id, outputs, checked = up(groups(), **program)
    emulator.update_group(group_id, name="renamed", description="edited", tags={"x": "y"})
    emulator.add_read_only_tag(group_id, "gcore_managed", "true")

    read = groups().read(group_id, outputs, checked)
    assert read.inputs is not None
    assert (read.inputs["name"], read.inputs["description"]) == ("renamed", "edited")
    assert read.inputs["tags"] == {"x": "y"}  # the read-only tag is Gcore's, not drift

    process = groups()
    news = process.check(program).inputs
    diff = process.diff(group_id, read.outputs, news)
    assert diff.changes == "some" and diff.replaces == []
    updated = process.update(group_id, read.outputs, news)
    assert (updated["name"], updated["description"], updated["tags"]) == (
        "web", "front", {"env": "prod"}
    )  # fmt: skip
    # name and description (a task) first; the tags only once that task succeeded
    assert bodies(emulator, "PATCH")[-2:] == [
        {"name": "web", "description": "front"}, {"tags": {"env": "prod", "x": None}}
    ]  # fmt: skip
    live = emulator.group(group_id)
    assert {t["key"]: t["value"] for t in live["tags_v2"]} == {
        "env": "prod", "gcore_managed": "true"
    }  # fmt: skip


def test_refresh_after_out_of_band_delete_reports_gone(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    group_id, outputs, checked = up(groups(), name="web")
    emulator.delete_group(group_id)
    assert groups().read(group_id, outputs, checked).id == ""


def test_rename_and_tag_change_patch_only_that_and_rules_survive(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    process = groups()
    group_id, outputs, _ = up(process, name="web", tags={"env": "prod", "team": "a"})
    # two rules made by SecurityGroupRule resources, served by the same provider process
    rule_provider = ProviderProcess(SecurityGroupRuleProvider()).serialized_provider
    rule_ids = []
    for port in (22, 443):
        checked = process.check(
            {"__provider": rule_provider, "group_id": group_id, "direction": "ingress",
             "protocol": "tcp", "port_range_min": port, "port_range_max": port}
        )  # fmt: skip
        assert checked.failures == []
        rule_id, _ = process.create({**checked.inputs, "__provider": rule_provider})
        rule_ids.append(rule_id)

    news = process.check({"name": "web-2", "tags": {"env": "prod", "new": "1"}}).inputs
    updated = process.update(group_id, outputs, news)
    assert bodies(emulator, "PATCH") == [{"name": "web-2"}, {"tags": {"team": None, "new": "1"}}]
    assert sorted(r["id"] for r in emulator.rules(group_id)) == sorted(rule_ids)
    assert updated["name"] == "web-2" and updated["tags"] == {"env": "prod", "new": "1"}
    assert updated["revision_number"] >= outputs["revision_number"]


def test_tags_only_update_without_a_task_still_reads_back(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    process = groups()
    group_id, outputs, _ = up(process, name="web")
    updated = process.update(
        group_id, outputs, process.check({"name": "web", "tags": {"a": "b"}}).inputs
    )
    assert updated["tags"] == {"a": "b"}
    assert emulator.group(group_id)["tags_v2"][0]["key"] == "a"


def test_delete_removes_the_group_and_a_second_delete_succeeds(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    group_id, outputs, _ = up(groups(), name="web")
    groups().delete(group_id, outputs)
    assert emulator.groups() == []
    process = groups()
    process.delete(group_id, outputs)  # Gcore's 404: already gone is deleted
    assert "already gone" in process.output()


def test_delete_of_a_group_in_use_says_to_detach_first(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    group_id, outputs, _ = up(groups(), name="web")
    emulator.mark_in_use(group_id)
    with pytest.raises(ProviderRpcError) as caught:
        groups().delete(group_id, outputs)
    last_line = caught.value.details.strip().splitlines()[-1]
    assert "409" in last_line and "detach" in last_line
    assert [g["id"] for g in emulator.groups()] == [group_id]


def test_replacing_project_creates_the_new_group_elsewhere(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    process = groups()
    group_id, outputs, _ = up(process, name="web")
    news = process.check({"name": "web", "project_id": 7}).inputs
    assert process.diff(group_id, outputs, news).replaces == ["project_id"]
    new_id, new_outputs = process.create(news)
    process.delete(group_id, outputs)
    assert [(g["id"], g["project_id"]) for g in emulator.groups()] == [(new_id, 7)]
    assert new_outputs["project_id"] == 7


def test_get_reads_an_existing_group_from_its_id_alone(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    group_id = emulator.create_group(name="by-hand", description="console", tags={"a": "b"})
    # SecurityGroup.get: the engine's ReadStep sends the given props as inputs and state
    read = groups().read(group_id, {}, {})
    assert read.id == group_id
    assert read.outputs["name"] == "by-hand" and read.outputs["tags"] == {"a": "b"}
    assert (read.outputs["project_id"], read.outputs["region_id"]) == (PROJECT, REGION)
    assert groups().read(group_id, {"project_id": 2}, {"project_id": 2}).id == ""


def test_rule_get_reads_an_existing_rule_from_group_and_id(emulator: GcoreEmulator) -> None:
    group_id = emulator.create_group(name="by-hand")
    rule = emulator.add_rule(group_id, direction="egress", protocol="udp", port_range_min=53,
                             port_range_max=53, remote_ip_prefix="0.0.0.0/0")  # fmt: skip
    with ProviderProcess(SecurityGroupRuleProvider(), env=clean_env()) as process:
        process.configure(stack_config(emulator), secret_keys=["gcore:apiKey"])
        props = {"group_id": group_id}
        read = process.read(rule["id"], props, props)
    assert read.id == rule["id"]
    assert read.outputs["direction"] == "egress" and read.outputs["protocol"] == "udp"
    assert read.outputs["remote_ip_prefix"] == "0.0.0.0/0"
    assert (read.outputs["port_range_min"], read.outputs["project_id"]) == (53, PROJECT)


def test_check_failures_name_inputs_and_never_repeat_values(groups: Groups) -> None:
    checked = groups().check({"name": "", "tags": {"k": "secret value"}, "nmae": "x"})
    assert {key for key, _ in checked.failures} == {"name", "tags", "nmae"}
    assert all("secret value" not in reason for _, reason in checked.failures)


def test_rule_get_without_project_anywhere_says_how_to_give_one(emulator: GcoreEmulator) -> None:
    group_id = emulator.create_group(name="by-hand")
    rule = emulator.add_rule(group_id, direction="egress")
    config = {k: v for k, v in stack_config(emulator).items() if k != "gcore:projectId"}
    with ProviderProcess(SecurityGroupRuleProvider(), env=clean_env()) as process:
        process.configure(config, secret_keys=["gcore:apiKey"])
        props = {"group_id": group_id}
        with pytest.raises(ProviderRpcError) as caught:
            process.read(rule["id"], props, props)
    last = caught.value.details.strip().splitlines()[-1]
    assert "gcore:projectId" in last and "project_id" in last and "ValidationError" not in last
