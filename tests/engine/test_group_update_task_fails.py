"""Issue 15.5: a failed group update leaves Gcore as the stack says.

Gcore's PATCH applies tags at once and the rest by a task. When that task ends in ERROR the
update fails, so the engine keeps the old values in the stack: Gcore must then hold the old
values too, tags included (the tags go in a second PATCH, only after the task succeeded).
Driven over gRPC.
"""

from __future__ import annotations

from typing import Any

import pytest

from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderRpcError

OLD = {"name": "web", "description": "front", "tags": {"env": "prod", "team": "a"}}
NEW = {"name": "web-2", "description": "front door", "tags": {"env": "dev", "new": "1"}}


def as_stack_says(group: dict[str, Any]) -> dict[str, Any]:
    tags = {t["key"]: t["value"] for t in group["tags_v2"] if not t.get("read_only")}
    return {"name": group["name"], "description": group["description"], "tags": tags}


def failed_update(groups: Any, emulator: GcoreEmulator, news: dict[str, Any]) -> str:
    """Create the group as OLD, then update it to ``news`` with the update task failing;
    returns the group id. The update must fail."""
    process = groups()
    group_id, outputs = process.create(process.check(OLD).inputs)
    emulator.fail_tasks("update_security_group", error="Neutron refused the update")
    with pytest.raises(ProviderRpcError) as caught:
        process.update(group_id, outputs, process.check(news).inputs)
    assert "Neutron refused the update" in caught.value.details
    return str(group_id)


def test_a_failed_update_task_leaves_the_old_name_and_tags_at_gcore(
    groups: Any, emulator: GcoreEmulator
) -> None:
    group_id = failed_update(groups, emulator, NEW)
    assert as_stack_says(emulator.group(group_id)) == OLD


def test_a_refresh_after_a_failed_update_finds_no_drift(
    groups: Any, emulator: GcoreEmulator
) -> None:
    process = groups()
    checked = process.check(OLD)
    group_id, outputs = process.create(checked.inputs)
    emulator.fail_tasks("update_security_group", error="Neutron refused the update")
    with pytest.raises(ProviderRpcError):
        process.update(group_id, outputs, process.check(NEW).inputs)
    read = groups().read(group_id, outputs, checked.inputs)  # the stack kept the old values
    assert read.inputs is not None
    assert {k: read.inputs[k] for k in OLD} == OLD


def test_a_failed_update_task_changes_neither_name_nor_description(
    groups: Any, emulator: GcoreEmulator
) -> None:
    group_id = failed_update(groups, emulator, NEW)
    live = as_stack_says(emulator.group(group_id))
    assert (live["name"], live["description"]) == (OLD["name"], OLD["description"])


def test_an_update_after_a_failed_one_applies_everything(
    groups: Any, emulator: GcoreEmulator
) -> None:
    group_id = failed_update(groups, emulator, NEW)
    process = groups()
    read = process.read(group_id, {}, {})  # what the stack would hold after a refresh
    updated = process.update(group_id, read.outputs, process.check(NEW).inputs)
    assert as_stack_says(emulator.group(group_id)) == NEW
    assert {k: updated[k] for k in NEW} == NEW
