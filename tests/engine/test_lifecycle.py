"""The whole lifecycle over gRPC, as the engine drives it: preview, up, refresh, destroy.

Each CLI command starts its own provider process, so each phase below uses a new one.
"""

from __future__ import annotations

from typing import Any

import pytest

from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import UNKNOWN, ProviderRpcError

from .conftest import PROJECT, REGION, RULE_APIS, Engine, clean_env, rule_inputs, stack_config

pytestmark = RULE_APIS


def up(engine_process: Any, inputs: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    checked = engine_process.check(inputs)
    assert checked.failures == []
    rule_id, outputs = engine_process.create(checked.inputs)
    return rule_id, outputs, checked.inputs


def test_basic_lifecycle(engine: Engine, emulator: GcoreEmulator, group: str) -> None:
    inputs = rule_inputs(group, protocol="tcp", port_range_min=443, port_range_max=443,
                         remote_ip_prefix="0.0.0.0/0", description="https")  # fmt: skip
    # preview: Check and Diff only, no outputs, no requests
    preview = engine()
    checked = preview.check(inputs)
    assert checked.failures == []
    assert emulator.requests == []

    # up
    process = engine()
    rule_id, outputs, checked_inputs = up(process, inputs)
    [live] = emulator.rules(group)
    assert live["id"] == rule_id
    assert outputs["security_group_id"] == group
    assert outputs["revision_number"] == 0
    assert outputs["created_at"] == live["created_at"]
    assert outputs["protocol"] == "tcp" and outputs["port_range_min"] == 443
    assert outputs["project_id"] == PROJECT and outputs["region_id"] == REGION

    # a second preview of the same program: no change
    diff = engine().diff(rule_id, outputs, engine().check(inputs).inputs)
    assert diff.changes == "none"

    # refresh in a new process: same values, inputs set, and Diff after it shows no change
    refresh = engine()
    read = refresh.read(rule_id, outputs, checked_inputs)
    assert read.id == rule_id
    assert read.outputs == outputs
    assert read.inputs is not None
    assert refresh.diff(rule_id, read.outputs, refresh.check(inputs).inputs).changes == "none"

    # destroy in a new process, with the OLD outputs
    engine().delete(rule_id, outputs)
    assert emulator.rules(group) == []


def test_any_protocol_and_null_prefix_map_back_without_drift(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    process = engine()
    rule_id, outputs, inputs = up(process, rule_inputs(group, remote_ip_prefix="::/0"))
    assert emulator.rules(group)[0]["protocol"] is None  # stored as null by the API
    assert outputs["protocol"] == "any" and outputs["ethertype"] == "IPv6"
    read = engine().read(rule_id, outputs, inputs)
    assert read.outputs == outputs


def test_ipv6_icmp(engine: Engine, emulator: GcoreEmulator, group: str) -> None:
    process = engine()
    inputs = rule_inputs(
        group, protocol="ipv6-icmp", ethertype="IPv6", port_range_min=128,
        remote_ip_prefix="2001:db8::1",
    )  # fmt: skip
    _, outputs, _ = up(process, inputs)
    assert outputs["remote_ip_prefix"] == "2001:db8::1/128"
    assert emulator.rules(group)[0]["remote_ip_prefix"] == "2001:db8::1/128"


def test_preview_with_unknowns_checks_the_rest(engine: Engine, group: str) -> None:
    process = engine()
    checked = process.check(
        rule_inputs(UNKNOWN, protocol="tcp", port_range_min=0, port_range_max=22)  # type: ignore[arg-type]
    )
    assert [key for key, _ in checked.failures] == ["port_range_min"]
    checked = process.check(rule_inputs(group, remote_ip_prefix=UNKNOWN))
    assert checked.failures == []
    assert checked.inputs["remote_ip_prefix"] == UNKNOWN
    assert checked.inputs["ethertype"] == UNKNOWN


def test_preview_diff_with_unknowns_replaces(engine: Engine, group: str) -> None:
    process = engine()
    rule_id, outputs, _ = up(process, rule_inputs(group))
    news = process.check(rule_inputs(group, remote_ip_prefix=UNKNOWN)).inputs
    diff = engine().diff(rule_id, outputs, news)
    assert diff.changes == "some"
    assert "remote_ip_prefix" in diff.replaces


def test_check_failures_come_back_as_data(engine: Engine, group: str) -> None:
    checked = engine().check(rule_inputs(group, direction="sideways", port_min=1))
    assert {key for key, _ in checked.failures} == {"direction", "port_min"}


def test_replacement_of_a_description_deletes_first(engine: Engine, group: str) -> None:
    process = engine()
    rule_id, outputs, _ = up(process, rule_inputs(group, description="old"))
    news = process.check(rule_inputs(group, description="new")).inputs
    diff = process.diff(rule_id, outputs, news)
    assert diff.replaces == ["description"]
    assert diff.delete_before_replace is True


def test_replacement_creates_first_when_rules_differ(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    process = engine()
    old_id, old_outputs, _ = up(process, rule_inputs(group, protocol="tcp", port_range_min=80,
                                                     port_range_max=80))  # fmt: skip
    news = process.check(rule_inputs(group, protocol="tcp", port_range_min=8080,
                                     port_range_max=8080)).inputs  # fmt: skip
    diff = process.diff(old_id, old_outputs, news)
    assert diff.delete_before_replace is False
    new_id, _ = process.create(news)  # create-before-delete: both exist for a moment
    assert len(emulator.rules(group)) == 2
    process.delete(old_id, old_outputs)
    assert [r["id"] for r in emulator.rules(group)] == [new_id]


def test_refresh_after_out_of_band_delete_reports_gone(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    rule_id, outputs, inputs = up(engine(), rule_inputs(group))
    emulator.remove_rule(rule_id)
    read = engine().read(rule_id, outputs, inputs)
    assert read.id == ""


def test_refresh_after_group_deleted_reports_gone(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    rule_id, outputs, inputs = up(engine(), rule_inputs(group))
    emulator.delete_group(group)
    assert engine().read(rule_id, outputs, inputs).id == ""
    engine().delete(rule_id, outputs)  # destroy still converges


def test_refresh_shows_drift_as_inputs(engine: Engine, emulator: GcoreEmulator, group: str) -> None:
    rule_id, outputs, inputs = up(engine(), rule_inputs(group, description="mine"))
    # someone recreates the rule by hand with another description under the same id: emulate
    # drift by editing what the API reports for it
    emulator.remove_rule(rule_id)
    other = emulator.add_rule(group, direction="ingress", description="edited")
    read = engine().read(other["id"], {**outputs}, inputs)
    assert read.inputs is not None and read.inputs["description"] == "edited"
    process = engine()
    diff = process.diff(
        read.id, read.outputs, process.check(rule_inputs(group, description="mine")).inputs
    )
    assert diff.changes == "some" and diff.replaces == ["description"]


def test_delete_of_a_rule_already_gone_succeeds(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    rule_id, outputs, _ = up(engine(), rule_inputs(group))
    emulator.remove_rule(rule_id)
    engine().delete(rule_id, outputs)


def test_config_from_env_instead_of_configure(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    env = clean_env(
        GCORE_API_KEY=emulator.api_key,
        GCORE_BASE_URL=emulator.base_url,
        GCORE_CLOUD_PROJECT_ID=str(PROJECT),
        GCORE_CLOUD_REGION_ID=str(REGION),
    )
    process = engine(config={}, env=env)
    rule_id, outputs, _ = up(process, rule_inputs(group))
    assert outputs["project_id"] == PROJECT
    assert [r["id"] for r in emulator.rules(group)] == [rule_id]


def test_resource_project_and_region_win_over_config(
    engine: Engine, emulator: GcoreEmulator
) -> None:
    other_group = emulator.create_group(project_id=5, region_id=9)
    process = engine()
    _, outputs, _ = up(process, rule_inputs(other_group, project_id=5, region_id=9))
    assert (outputs["project_id"], outputs["region_id"]) == (5, 9)
    assert len(emulator.rules(other_group)) == 1


def test_preview_works_without_a_key_but_create_says_how_to_set_it(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    config = stack_config(emulator)
    del config["gcore:apiKey"]
    process = engine(config=config)
    checked = process.check(rule_inputs(group))
    assert checked.failures == []
    with pytest.raises(ProviderRpcError) as caught:
        process.create(checked.inputs)
    assert "pulumi config set --secret gcore:apiKey" in caught.value.details
    assert emulator.requests == []


def test_duplicate_on_first_try_names_the_existing_rule(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    existing = emulator.add_rule(group, direction="ingress", protocol="tcp", port_range_min=22,
                                 port_range_max=22, description="by hand")  # fmt: skip
    process = engine()
    checked = process.check(
        rule_inputs(group, protocol="tcp", port_range_min=22, port_range_max=22)
    )
    with pytest.raises(ProviderRpcError) as caught:
        process.create(checked.inputs)
    last_line = caught.value.details.strip().splitlines()[-1]
    assert "409" in last_line and existing["id"] in last_line and "adopt_existing" in last_line
    assert len(emulator.rules(group)) == 1


def test_adopt_existing_takes_over_and_changing_it_alone_is_an_update(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    existing = emulator.add_rule(group, direction="ingress", protocol="udp", port_range_min=53,
                                 port_range_max=53)  # fmt: skip
    process = engine()
    inputs = rule_inputs(
        group, protocol="udp", port_range_min=53, port_range_max=53, adopt_existing=True
    )
    rule_id, outputs, _ = up(process, inputs)
    assert rule_id == existing["id"]
    assert len(emulator.rules(group)) == 1
    news = process.check(rule_inputs(group, protocol="udp", port_range_min=53,
                                     port_range_max=53, adopt_existing=False)).inputs  # fmt: skip
    diff = process.diff(rule_id, outputs, news)
    assert diff.changes == "some" and diff.replaces == []
    updated = process.update(rule_id, outputs, news)
    assert updated["adopt_existing"] is False
    assert updated["created_at"] == outputs["created_at"]


def test_api_errors_are_one_readable_line_without_the_key(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    process = engine(**{"gcore:apiKey": "wrong-key-zzz"})
    checked = process.check(rule_inputs(group))
    with pytest.raises(ProviderRpcError) as caught:
        process.create(checked.inputs)
    details = caught.value.details
    last_line = details.strip().splitlines()[-1]
    assert "401" in last_line and "/cloud/v1/securitygroups/1/1/" in last_line
    assert "wrong-key-zzz" not in details
    assert "urllib3" not in details and "requests/" not in details


def test_import_style_read_cannot_work_for_dynamic_providers(engine: Engine) -> None:
    # `pulumi import` sends Read with only an id: the SDK fails before provider code runs.
    with pytest.raises(ProviderRpcError) as caught:
        engine().read("some-id", None, None, include_provider=False)
    assert "__provider" in caught.value.details


def test_diagnostics_quiet_on_the_happy_path_one_line_per_retry(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    process = engine()
    rule_id, outputs, inputs = up(process, rule_inputs(group))
    process.read(rule_id, outputs, inputs)
    process.delete(rule_id, outputs)
    assert process.output() == ""  # nothing for the happy path

    emulator.faults.add("503", method="GET", times=1)
    emulator.faults.add("commit_then_502", method="POST", times=1)
    up(process, rule_inputs(group, protocol="udp", port_range_min=53, port_range_max=53))
    lines = process.output().strip().splitlines()
    assert len(lines) == 3, lines  # the POST's 502, the GET's 503, and the adoption
    assert all(line.startswith("gcore: ") for line in lines)
    assert "502" in lines[0] and "503" in lines[1] and "adopting" in lines[2]


def test_second_refresh_in_the_same_process_sees_out_of_band_changes(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    process = engine()
    rule_id, outputs, inputs = up(process, rule_inputs(group))
    assert process.read(rule_id, outputs, inputs).id == rule_id
    emulator.remove_rule(rule_id)
    assert process.read(rule_id, outputs, inputs).id == ""  # not the answer of the first read
