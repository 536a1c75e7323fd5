"""Issue 15.2: a broken success answer is ambiguous, not a failure.

Gcore committed the write, then something on the way broke its 2xx answer: the body is cut
off (``commit_then_truncate``) or is a proxy's HTML page (``commit_then_html_200``). The
create must settle it like a lost answer and return what it made, so the stack records it:
no unrecorded rule that the next `up` meets as a 409, no second group. A group update must
leave the stack saying what Gcore has. Driven over gRPC as the engine does.
"""

from __future__ import annotations

from typing import Any

import pytest

from gcore_pulumi import SecurityGroupProvider
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderProcess
from tests.standin import StandIn

from .conftest import Engine, clean_env, rule_inputs, stack_config

SSH = {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22}
HTML_200 = "commit_then_html_200"
TRUNCATE = "commit_then_truncate"


def user_tags(group: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in group["tags_v2"] if not t.get("read_only")}


@pytest.mark.parametrize("rule_api", ["v1", "v2"], indirect=True)
@pytest.mark.parametrize("kind", [TRUNCATE, HTML_200])
def test_a_rule_create_whose_answer_broke_returns_the_rule_it_made(
    engine: Engine, emulator: GcoreEmulator, group: str, rule_api: str, kind: Any
) -> None:
    process = engine()
    checked = process.check(rule_inputs(group, **SSH))
    emulator.faults.add(kind, method="POST", times=1)
    rule_id, outputs = process.create(checked.inputs)
    assert emulator.faults.injected == {kind: 1}
    assert [r["id"] for r in emulator.rules(group)] == [rule_id]  # recorded, and only one
    assert (outputs["port_range_min"], outputs["protocol"]) == (22, "tcp")


@pytest.mark.parametrize("kind", [TRUNCATE, HTML_200])
def test_a_group_create_whose_answer_broke_returns_the_group_it_made(
    groups: Any, emulator: GcoreEmulator, kind: Any
) -> None:
    process = groups()
    checked = process.check({"name": "web", "tags": {"env": "prod"}})
    emulator.faults.add(kind, method="POST", times=1)
    group_id, outputs = process.create(checked.inputs)
    assert emulator.faults.injected == {kind: 1}
    assert [g["id"] for g in emulator.groups()] == [group_id]  # recorded, and only one
    assert (outputs["name"], outputs["tags"]) == ("web", {"env": "prod"})


@pytest.mark.parametrize("kind", [TRUNCATE, HTML_200])
def test_a_group_update_whose_answer_broke_leaves_the_stack_saying_what_gcore_has(
    groups: Any, emulator: GcoreEmulator, kind: Any
) -> None:
    process = groups()
    group_id, outputs = process.create(process.check({"name": "web", "tags": {"a": "1"}}).inputs)
    news = process.check({"name": "web-2", "tags": {"b": "2"}}).inputs
    emulator.faults.add(kind, method="PATCH", times=1)
    updated = process.update(group_id, outputs, news)
    assert emulator.faults.injected == {kind: 1}
    live = emulator.group(group_id)
    assert (live["name"], user_tags(live)) == ("web-2", {"b": "2"})
    assert (updated["name"], updated["tags"]) == ("web-2", {"b": "2"})


@pytest.mark.parametrize("rule_api", ["v1", "v2"], indirect=True)
@pytest.mark.parametrize("kind", [TRUNCATE, HTML_200])
def test_a_rule_delete_whose_answer_broke_reports_the_rule_deleted(
    engine: Engine, emulator: GcoreEmulator, group: str, rule_api: str, kind: Any
) -> None:
    # (v1 answers a bodiless 204, which stays whole: its TRUNCATE case is a plain delete)
    process = engine()
    rule_id, outputs = process.create(process.check(rule_inputs(group, **SSH)).inputs)
    emulator.faults.add(kind, method="DELETE", times=1)
    engine().delete(rule_id, outputs)
    assert emulator.faults.injected == {kind: 1}
    assert emulator.rules(group) == []


@pytest.mark.parametrize("kind", [TRUNCATE, HTML_200])
def test_a_group_delete_whose_answer_broke_reports_the_group_deleted(
    groups: Any, emulator: GcoreEmulator, kind: Any
) -> None:
    # Gcore deleted the group; the proof is the group list without it (as for a 404).
    # (Gcore answers a bodiless 204, which stays whole: its TRUNCATE case is a plain delete)
    process = groups()
    group_id, outputs = process.create(process.check({"name": "web"}).inputs)
    emulator.faults.add(kind, method="DELETE", times=1)
    groups().delete(group_id, outputs)
    assert emulator.faults.injected == {kind: 1}
    assert emulator.groups() == []


def test_a_group_delete_whose_broken_answer_changed_nothing_is_sent_again(
    emulator: GcoreEmulator,
) -> None:
    # Something on the way answered 200 with its own page, and Gcore never saw the DELETE:
    # the group list still shows the group, so the DELETE is sent again (not reported done).
    group_id = emulator.create_group(project_id=1, region_id=1, name="web")
    with StandIn(emulator.base_url) as proxy:
        html = b"<html><body>ok</body></html>"
        proxy.answer(
            "DELETE", r"/securitygroups/", 200, html, {"Content-Type": "text/html"}, times=1
        )
        process = ProviderProcess(SecurityGroupProvider(), env=clean_env()).start()
        try:
            config = {**stack_config(emulator), "gcore:baseUrl": proxy.base_url}
            process.configure(config, secret_keys=["gcore:apiKey"])
            outputs = process.read(group_id, {}, None).outputs
            process.delete(group_id, outputs)
        finally:
            process.stop()
        assert len(proxy.requests("DELETE")) == 2
    assert emulator.groups() == []
    assert "(the answer is not JSON), and the group is still there; retrying" in process.output()


@pytest.mark.parametrize("rule_api", ["v1", "v2"], indirect=True)
def test_a_read_whose_answer_was_cut_off_is_sent_again(
    engine: Engine, emulator: GcoreEmulator, group: str, rule_api: str
) -> None:
    # A GET is safe to repeat: a body cut off on the way is retried like a lost answer
    # (it used to fail the refresh with "failed: ChunkedEncodingError").
    process = engine()
    rule_id, outputs = process.create(process.check(rule_inputs(group, **SSH)).inputs)
    emulator.faults.add(TRUNCATE, method="GET", times=1)
    read = engine().read(rule_id, outputs, None)
    assert emulator.faults.injected == {TRUNCATE: 1}
    assert read.id == rule_id and read.outputs["port_range_min"] == 22
