"""Rules over Gcore's v2 API (gcore:ruleApi v2): the same state, the same guarantees.

The lifecycle itself runs for both APIs in test_lifecycle.py; here are what v2 adds:
tasks, both ways Gcore may refuse a duplicate, lost answers to the POST and to the task
polls, and switching APIs on an existing stack.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderRpcError

from .conftest import Engine, rule_inputs

SSH = {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22}
V2 = {"gcore:ruleApi": "v2"}


def error_of(call: Any, *args: Any) -> str:
    with pytest.raises(ProviderRpcError) as caught:
        call(*args)
    return caught.value.details.strip().splitlines()[-1]


def up(engine: Engine, inputs: dict[str, Any], **config: str) -> tuple[str, dict[str, Any]]:
    process = engine(**config)
    return process.create(process.check(inputs).inputs)


def test_v2_create_posts_to_v2_and_any_is_sent_as_null(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    rule_id, outputs = up(engine, rule_inputs(group), **V2)
    [post] = [r for r in emulator.requests if r.method == "POST"]
    assert post.path == f"/cloud/v2/security_groups/1/1/{group}/rules"
    assert post.body["protocol"] is None
    assert outputs["protocol"] == "any"
    assert [r["id"] for r in emulator.rules(group)] == [rule_id]
    assert emulator.tasks("create_security_group_rule")[0]["state"] == "FINISHED"


@pytest.mark.parametrize(("made_by", "switched_to"), [("v1", "v2"), ("v2", "v1")])
def test_switching_rule_api_plans_no_change_and_refresh_and_destroy_work(
    engine: Engine, emulator: GcoreEmulator, group: str, made_by: str, switched_to: str
) -> None:
    inputs = rule_inputs(group, description="ssh", remote_ip_prefix="10.0.0.0/8", **SSH)
    rule_id, outputs = up(engine, inputs, **{"gcore:ruleApi": made_by})
    other = engine(**{"gcore:ruleApi": switched_to})
    assert other.diff(rule_id, outputs, other.check(inputs).inputs).changes == "none"
    read = other.read(rule_id, outputs, inputs)
    assert read.outputs == outputs
    other.delete(rule_id, outputs)
    assert emulator.rules(group) == []
    deletes = [r.path for r in emulator.requests if r.method == "DELETE"]
    assert deletes and ("/v2/" in deletes[-1]) == (switched_to == "v2")


def test_outputs_are_identical_whichever_api_made_the_rule(
    engine: Engine, emulator: GcoreEmulator
) -> None:
    shapes = []
    for api in ("v1", "v2"):
        group = emulator.create_group(name=api)
        _, outputs = up(engine, rule_inputs(group, remote_ip_prefix="::/0", **SSH),
                        **{"gcore:ruleApi": api})  # fmt: skip
        own = ("group_id", "security_group_id", "created_at", "updated_at")
        shapes.append({k: v for k, v in outputs.items() if k not in own})
    assert shapes[0] == shapes[1]


@pytest.mark.parametrize("mode", ["409", "task_error"])
def test_a_genuine_duplicate_fails_naming_the_existing_rule(
    engine: Engine, emulator: GcoreEmulator, group: str, mode: str
) -> None:
    emulator.duplicate_mode = mode  # type: ignore[assignment]
    foreign = emulator.add_rule(group, direction="ingress", **SSH)
    process = engine(**V2)
    message = error_of(process.create, process.check(rule_inputs(group, **SSH)).inputs)
    assert foreign["id"] in message and "adopt_existing=True" in message
    assert emulator.rules(group) == [foreign]


@pytest.mark.parametrize("mode", ["409", "task_error"])
def test_adopt_existing_takes_a_twin_made_after_the_look(
    engine: Engine, emulator: GcoreEmulator, group: str, mode: str
) -> None:
    emulator.duplicate_mode = mode  # type: ignore[assignment]
    process = engine(**V2)
    checked = process.check(rule_inputs(group, adopt_existing=True, **SSH))
    rule_id, _ = process.create(checked.inputs)
    assert [r["id"] for r in emulator.rules(group)] == [rule_id]


@pytest.mark.parametrize("mode", ["409", "task_error"])
@pytest.mark.parametrize("fault", ["commit_then_502", "commit_then_drop"])
def test_a_lost_post_answer_never_duplicates_or_loses_the_rule(
    engine: Engine, emulator: GcoreEmulator, group: str, mode: str, fault: str
) -> None:
    emulator.duplicate_mode = mode  # type: ignore[assignment]
    emulator.task_delay = 0.3  # the rule appears only when its task finishes
    emulator.faults.add(fault, method="POST", times=1)  # type: ignore[arg-type]
    rule_id, _ = up(engine, rule_inputs(group, **SSH), **V2)
    assert [r["id"] for r in emulator.rules(group)] == [rule_id]


@pytest.mark.parametrize("fault", ["503", "drop"])
def test_a_failed_post_never_adopts_a_rule_that_was_there_before(
    engine: Engine, emulator: GcoreEmulator, group: str, fault: str
) -> None:
    foreign = emulator.add_rule(group, direction="ingress", **SSH)
    emulator.faults.add(fault, method="POST", times=1)  # type: ignore[arg-type]
    process = engine(**V2)
    message = error_of(process.create, process.check(rule_inputs(group, **SSH)).inputs)
    assert foreign["id"] in message
    assert emulator.rules(group) == [foreign]


@pytest.mark.parametrize("rule_api", ["v1", "v2"])
def test_a_rule_made_by_someone_else_after_an_earlier_create_is_never_adopted(
    engine: Engine, emulator: GcoreEmulator, group: str, rule_api: str
) -> None:
    """The group's "before" snapshot of an earlier create (same process, same group) must
    not serve a create that starts well after it ended (over a second; it was reused for
    30 s): a twin someone else made in between would be taken for this create's own after
    its lost POST."""
    process = engine(**{"gcore:ruleApi": rule_api})
    http = {"protocol": "tcp", "port_range_min": 80, "port_range_max": 80}
    process.create(process.check(rule_inputs(group, **http)).inputs)
    time.sleep(1.2)  # a later create, not the same wave
    foreign = emulator.add_rule(group, direction="ingress", **SSH)
    emulator.faults.add("drop", method="POST", times=1)
    message = error_of(process.create, process.check(rule_inputs(group, **SSH)).inputs)
    assert foreign["id"] in message
    assert foreign["id"] in {r["id"] for r in emulator.rules(group)}
    assert len(emulator.rules(group)) == 2  # the http rule and the foreign one: no twin


def test_lost_task_polls_never_duplicate_or_lose_the_rule(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    emulator.faults.add("drop", method="GET", path_prefix="/cloud/v1/tasks/", times=6)
    rule_id, _ = up(engine, rule_inputs(group, **SSH), **{**V2, "gcore:maxRetries": "2"})
    assert [r["id"] for r in emulator.rules(group)] == [rule_id]
    assert emulator.count("POST") == 1


def test_a_task_error_fails_the_create_with_one_line_naming_the_task(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    emulator.fail_tasks("create_security_group_rule", error="Quota exceeded")
    process = engine(**V2)
    message = error_of(process.create, process.check(rule_inputs(group, **SSH)).inputs)
    [task] = emulator.tasks("create_security_group_rule")
    assert task["id"] in message and "Quota exceeded" in message
    assert emulator.rules(group) == []


def test_v2_delete_waits_for_its_task_and_converges(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    emulator.task_delay = 0.3
    rule_id, outputs = up(engine, rule_inputs(group, **SSH), **V2)
    emulator.faults.add("commit_then_drop", method="DELETE", times=1)
    engine(**V2).delete(rule_id, outputs)
    assert emulator.rules(group) == []  # gone when delete returned, not later
    # already gone (rule, then group): still success
    engine(**V2).delete(rule_id, outputs)
    emulator.delete_group(group)
    engine(**V2).delete(rule_id, outputs)


def test_concurrent_v2_creates_share_group_reads(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    process = engine(**V2)
    checked = [
        process.check(rule_inputs(group, protocol="tcp", port_range_min=p, port_range_max=p))
        for p in range(2000, 2016)
    ]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda c: process.create(c.inputs), checked))
    assert len(emulator.rules(group)) == 16
    group_reads = emulator.count("GET", "/cloud/v1/securitygroups/")
    assert group_reads < 16  # shared, not one per create


def test_a_lost_post_answer_settles_even_when_the_task_list_cannot_be_read(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    emulator.task_delay = 0.3
    emulator.faults.add("commit_then_drop", method="POST", times=1)
    emulator.faults.add("html_404", method="GET", path_prefix="/cloud/v1/tasks?")
    rule_id, _ = up(engine, rule_inputs(group, **SSH), **V2)
    time.sleep(0.4)  # every task has ended
    emulator.finish_tasks()
    assert [r["id"] for r in emulator.rules(group)] == [rule_id]
