"""Group create and its task under faults, through the provider process: slow and failed
tasks, lost POST answers (adopted, never duplicated), failures that made nothing (posted
again), and someone else's group of the same name (never adopted)."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from gcore_pulumi import SecurityGroupProvider
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderProcess, ProviderRpcError

from .conftest import PROJECT, REGION, clean_env, stack_config

V2 = f"/cloud/v2/security_groups/{PROJECT}/{REGION}"
TASKS = "/cloud/v1/tasks"


@pytest.fixture
def process(emulator: GcoreEmulator) -> Iterator[ProviderProcess]:
    with ProviderProcess(SecurityGroupProvider(), env=clean_env()) as started:
        config = stack_config(emulator, **{"gcore:taskNoticeAfter": "0.3"})
        started.configure(config, secret_keys=["gcore:apiKey"])
        yield started


def create(process: ProviderProcess, **inputs: Any) -> tuple[str, dict[str, Any]]:
    checked = process.check({"name": "web", **inputs})
    assert checked.failures == []
    return process.create(checked.inputs)


def named(emulator: GcoreEmulator, name: str = "web") -> list[str]:
    return [g["id"] for g in emulator.groups() if g["name"] == name]


def last_line(error: ProviderRpcError) -> str:
    return error.details.strip().splitlines()[-1]


def test_happy_path_is_quiet(process: ProviderProcess, emulator: GcoreEmulator) -> None:
    create(process)
    assert process.output() == ""


def test_slow_task_is_waited_for_with_one_notice(
    process: ProviderProcess, emulator: GcoreEmulator
) -> None:
    emulator.task_delays["create_security_group"] = 0.8
    group_id, outputs = create(process)
    assert named(emulator) == [group_id] and outputs["name"] == "web"
    polls = emulator.count("GET", TASKS)
    assert 2 <= polls <= 10  # backed off, not polled in a tight loop
    notices = [line for line in process.output().splitlines() if "still" in line]
    assert len(notices) == 1 and "create_security_group" in notices[0]


def test_task_error_fails_the_create_in_one_line_naming_task_and_reason(
    process: ProviderProcess, emulator: GcoreEmulator
) -> None:
    emulator.fail_tasks("create_security_group", error="Quota exceeded for security groups")
    with pytest.raises(ProviderRpcError) as caught:
        create(process)
    [task] = emulator.tasks("create_security_group")
    line = last_line(caught.value)
    assert task["id"] in line and "Quota exceeded for security groups" in line
    assert emulator.groups() == []


def test_task_outliving_the_deadline_names_it_and_says_what_to_do(
    process: ProviderProcess, emulator: GcoreEmulator
) -> None:
    emulator.task_delays["create_security_group"] = 5.0
    with ProviderProcess(SecurityGroupProvider(), env=clean_env()) as short:
        config = stack_config(emulator, **{"gcore:deadline": "0.6", "gcore:timeout": "0.3"})
        short.configure(config, secret_keys=["gcore:apiKey"])
        with pytest.raises(ProviderRpcError) as caught:
            create(short)
    [task] = emulator.tasks("create_security_group")
    line = last_line(caught.value)
    assert task["id"] in line and "gcore:deadline" in line and "'web'" in line
    last = max(i for i, r in enumerate(emulator.requests) if r.path.startswith(TASKS))
    assert all(not r.path.startswith(V2) for r in emulator.requests[last:])


def test_under_the_runner_the_task_outliving_the_deadline_says_how_to_delete_it_there(
    emulator: GcoreEmulator,
) -> None:
    # The runner (GCORE_PULUMI_RUNNER=1) has no console and no `pulumi up`: the hint names
    # its next run and commands that find and delete the group, which work as printed.
    emulator.task_delays["create_security_group"] = 1.5
    env = clean_env(GCORE_PULUMI_RUNNER="1")
    with ProviderProcess(SecurityGroupProvider(), env=env) as short:
        config = stack_config(emulator, **{"gcore:deadline": "0.6", "gcore:timeout": "0.3"})
        short.configure(config, secret_keys=["gcore:apiKey"])
        with pytest.raises(ProviderRpcError) as caught:
            create(short)
    line = last_line(caught.value)
    assert "pulumi " not in line and "console" not in line, line
    assert "before the next run of the program, which would make another" in line
    commands = re.findall(r"`(curl [^`]*)`", line)
    assert len(commands) == 2 and all("$GCORE_API_KEY" in c for c in commands), line
    time.sleep(2.0)  # the task finishes
    [group_id] = named(emulator)
    bash = {**clean_env(), "GCORE_API_KEY": emulator.api_key}
    listed = subprocess.run(["bash", "-c", commands[0] + " --fail -s"], env=bash,
                            capture_output=True, text=True, check=True, timeout=30)  # fmt: skip
    assert group_id in listed.stdout
    delete = commands[1].replace("<id>", group_id)
    subprocess.run(["bash", "-c", delete + " --fail -s"], env=bash, check=True, timeout=30)
    assert named(emulator) == []


@pytest.mark.parametrize("kind", ["commit_then_drop", "commit_then_502"])
def test_lost_answer_to_a_post_that_made_the_group_is_adopted(
    process: ProviderProcess, emulator: GcoreEmulator, kind: str
) -> None:
    emulator.task_delays["create_security_group"] = 0.3  # not listed until its task ends
    emulator.faults.add(kind, method="POST", path_prefix=V2, times=1)
    group_id, outputs = create(process, description="front", tags={"env": "prod"})
    assert named(emulator) == [group_id]
    assert emulator.count("POST", V2) == 1
    assert outputs["tags"] == {"env": "prod"}
    lines = process.output().strip().splitlines()
    assert len(lines) == 1 and "adopting" in lines[0] and group_id in lines[0]


@pytest.mark.parametrize("kind", ["502", "503", "drop", "html_502"])
def test_failure_that_made_nothing_is_posted_again_once(
    process: ProviderProcess, emulator: GcoreEmulator, kind: str
) -> None:
    emulator.faults.add(kind, method="POST", path_prefix=V2, times=1)
    group_id, _ = create(process)
    assert named(emulator) == [group_id]
    assert emulator.count("POST", V2) == 2
    # (a try without any answer is watched for up to 10 s; that wait says so in its own line)
    lines = [line for line in process.output().strip().splitlines() if "still looking" not in line]
    assert len(lines) == 1 and "no group was made" in lines[0]


def test_rate_limited_post_is_simply_retried(
    process: ProviderProcess, emulator: GcoreEmulator
) -> None:
    emulator.faults.add("429", method="POST", path_prefix=V2, times=2, retry_after="0")
    group_id, _ = create(process)
    assert named(emulator) == [group_id]
    assert emulator.count("POST", V2) == 3
    assert emulator.count("GET", TASKS + "?") == 0  # a 429 needs no reconciliation


def test_someone_elses_group_with_the_same_name_is_never_adopted(
    process: ProviderProcess, emulator: GcoreEmulator
) -> None:
    theirs = emulator.create_group(name="web")
    emulator.faults.add("502", method="POST", path_prefix=V2, times=1)  # nothing made
    ours, _ = create(process)
    assert ours != theirs and sorted(named(emulator)) == sorted([ours, theirs])

    emulator.faults.add("commit_then_502", method="POST", path_prefix=V2, times=1)
    again, _ = create(process)
    assert again not in (ours, theirs) and len(named(emulator)) == 3
    assert emulator.count("POST", V2) == 3  # the committed try was adopted, not repeated


def test_two_new_same_name_groups_after_a_lost_answer_fail_naming_both(
    process: ProviderProcess, emulator: GcoreEmulator
) -> None:
    emulator.faults.add("commit_then_502", method="POST", path_prefix=V2, times=1)
    # someone makes an identical group after our POST, while we check what it did
    emulator.faults.add("slow", method="GET", path_prefix=TASKS + "?", times=1, delay=0.5)

    def someone_else() -> None:
        deadline = time.monotonic() + 10
        while emulator.count("POST", V2) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        emulator.create_group(name="web")

    thread = threading.Thread(target=someone_else)
    thread.start()
    with pytest.raises(ProviderRpcError) as caught:
        create(process)
    thread.join()
    line = last_line(caught.value)
    found = named(emulator)
    assert len(found) == 2 and all(group_id in line for group_id in found)
    assert emulator.count("POST", V2) == 1


def test_group_that_cannot_be_checked_after_a_lost_answer_is_not_posted_again(
    process: ProviderProcess, emulator: GcoreEmulator
) -> None:
    emulator.faults.add("commit_then_502", method="POST", path_prefix=V2, times=1)
    emulator.faults.add("503", method="GET", path_prefix=TASKS, times=100)
    with pytest.raises(ProviderRpcError) as caught:
        create(process)
    line = last_line(caught.value)
    assert "could not be checked" in line and "'web'" in line
    assert emulator.count("POST", V2) == 1


def test_lost_task_polls_settle_to_the_one_group_the_post_made(
    emulator: GcoreEmulator,
) -> None:
    # The POST is accepted, then every poll of its task is lost until the retries run out:
    # the group it made is found and adopted, never orphaned or made twice.
    emulator.task_delays["create_security_group"] = 0.2
    emulator.faults.add("drop", method="GET", path_prefix=f"{TASKS}/", times=3)
    with ProviderProcess(SecurityGroupProvider(), env=clean_env()) as short:
        config = stack_config(emulator, **{"gcore:maxRetries": "2"})
        short.configure(config, secret_keys=["gcore:apiKey"])
        group_id, _ = create(short)
    assert named(emulator) == [group_id]
    assert emulator.count("POST", V2) == 1
