"""A group PATCH whose task cannot be followed (a proxy answers the poll, its body breaks,
the deadline comes) is ambiguous, not failed: Gcore accepted it and may have applied it.
Through the engine protocol: the update checks the group and succeeds when Gcore has the
change; when it cannot find out, the error says that Gcore may already have the change."""

from __future__ import annotations

from typing import Any

import pytest

from gcore_pulumi.rule_set import live_rules_output
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderProcess, ProviderRpcError

from .conftest import Groups

GROUP_TYPE = "pulumi-python:dynamic/gcore:SecurityGroup"
SSH = {"direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}
HTTPS = {"direction": "ingress", "protocol": "tcp", "port_range_min": 443, "port_range_max": 443}
TASKS = "/cloud/v1/tasks"
MAY_HAVE = "Gcore may already have this change"


def shape(rules: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((r["direction"], r.get("protocol"), r.get("port_range_min")) for r in rules)


def change(groups: Groups, **config: str) -> tuple[str, Any, ProviderProcess, Any]:
    """A group with [SSH]; a process ready to change it to [SSH, HTTPS] (and rename it)."""
    first = groups()
    urn = first.make_urn("web", GROUP_TYPE)
    checked = first.check({"name": "web", "rules": [SSH]}, urn=urn)
    group_id, outputs = first.create(checked.inputs, urn=urn)
    process = groups(**config)
    news = process.check({"name": "web-2", "rules": [SSH, HTTPS]}, urn=urn).inputs
    return str(group_id), outputs, process, news


def patches(emulator: GcoreEmulator) -> int:
    return sum(1 for r in emulator.requests if r.method == "PATCH")


@pytest.mark.parametrize(
    "kind", ["html_404", "empty_404", "redirect", "commit_then_html_200", "commit_then_truncate"]
)
def test_a_task_poll_not_answered_by_gcore_is_settled_by_reading_the_group(
    groups: Groups, emulator: GcoreEmulator, kind: str
) -> None:
    group_id, outputs, process, news = change(groups)
    emulator.faults.add(kind, method="GET", path_prefix=f"{TASKS}/", times=1)  # type: ignore[arg-type]
    updated = process.update(group_id, outputs, news, urn=process.make_urn("web", GROUP_TYPE))
    assert emulator.faults.injected == {kind: 1}
    live = emulator.rules(group_id)
    assert shape(live) == shape([SSH, HTTPS]) and emulator.group(group_id)["name"] == "web-2"
    assert live_rules_output(updated["rules"]) == live_rules_output(live)  # state == Gcore
    assert patches(emulator) == 1  # found applied (checked), not sent again


def test_when_no_answer_says_whether_it_was_applied_the_error_says_it_may_be(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    group_id, outputs, process, news = change(groups)
    emulator.faults.add("html_404", method="GET", path_prefix=TASKS)  # every poll, every list
    with pytest.raises(ProviderRpcError) as caught:
        process.update(group_id, outputs, news, urn=process.make_urn("web", GROUP_TYPE))
    assert MAY_HAVE in caught.value.details
    assert "pulumi refresh" in caught.value.details
    emulator.faults.clear()
    emulator.finish_tasks()
    assert shape(emulator.rules(group_id)) == shape([SSH, HTTPS])  # it was: the message is true


def test_a_deadline_during_the_patch_task_says_the_change_may_be_in_effect(
    groups: Groups, emulator: GcoreEmulator
) -> None:
    group_id, outputs, process, news = change(groups, **{"gcore:deadline": "1.5"})
    emulator.task_delay = 5.0
    with pytest.raises(ProviderRpcError) as caught:
        process.update(group_id, outputs, news, urn=process.make_urn("web", GROUP_TYPE))
    assert "gcore:deadline" in caught.value.details and MAY_HAVE in caught.value.details
