"""Gcore's official Python SDK (``gcore``) runs its own calls against the emulator.

A client nobody here wrote, generated from Gcore's OpenAPI, with strict response validation
on: every answer must parse as the SDK's models (``SecurityGroup``, ``Task``, ...). The SDK's
own ``*_and_poll`` helpers drive the task polling. The only thing changed on the client is
its sleep between polls (the SDK never sleeps less than 1 s), to keep the tests fast; the
emulator's tasks still go NEW -> RUNNING -> FINISHED in real time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from gcore_pulumi.testing import GcoreEmulator

gcore = pytest.importorskip(
    "gcore", reason="the test extra installs gcore (pip install -e .[test])"
)

pytest_plugins = ["gcore_pulumi.testing.pytest_plugin"]

POLL_SLEEP = 0.01


@pytest.fixture
def emulator() -> Iterator[GcoreEmulator]:
    with GcoreEmulator(task_delay=0.05) as api:
        yield api


def make_client(emulator: GcoreEmulator) -> gcore.Gcore:
    client = gcore.Gcore(
        api_key=emulator.api_key,
        base_url=emulator.base_url,
        cloud_project_id=1,
        cloud_region_id=1,
        polling_interval_seconds=1,
        max_retries=0,
        _strict_response_validation=True,
    )
    # The SDK's poll sleeps max(1, interval) seconds; only the sleep is shortened.
    client.cloud.tasks._sleep = lambda seconds: time.sleep(POLL_SLEEP)  # type: ignore[method-assign]
    return client


@pytest.fixture
def client(emulator: GcoreEmulator) -> Iterator[gcore.Gcore]:
    sdk = make_client(emulator)
    try:
        yield sdk
    finally:
        sdk.close()


def user_tags(group: gcore.types.cloud.SecurityGroup) -> dict[str, str]:
    return {t.key: t.value for t in group.tags_v2 if not t.read_only}


def test_group_create_get_list_update_delete(client: gcore.Gcore, emulator: GcoreEmulator) -> None:
    sgs = client.cloud.security_groups
    group = sgs.create_and_poll(name="web", description="front", tags={"env": "prod"}, rules=[])
    assert (group.name, group.description, group.security_group_rules) == ("web", "front", [])
    assert user_tags(group) == {"env": "prod"}
    assert emulator.group(group.id)["name"] == "web"  # it exists only once the task finished

    fetched = sgs.get(group.id)
    assert fetched.id == group.id and fetched.revision_number == group.revision_number

    sgs.create_and_poll(name="db", rules=[])
    assert [g.id for g in sgs.list(name="web")] == [group.id]
    assert [g.id for g in sgs.list(tag_key=["env"])] == [group.id]
    assert [g.id for g in sgs.list(tag_key_value=json.dumps({"env": "prod"}))] == [group.id]
    assert list(sgs.list(tag_key_value=json.dumps({"env": "dev"}))) == []

    updated = sgs.update_and_poll(group.id, name="web2", tags={"env": None, "team": "edge"})
    assert updated.name == "web2" and user_tags(updated) == {"team": "edge"}
    assert updated.description == "front"

    assert sgs.delete(group.id) is None
    with pytest.raises(gcore.NotFoundError):
        sgs.get(group.id)
    with pytest.raises(gcore.NotFoundError):
        sgs.delete(group.id)


def test_group_without_rules_gets_the_default_template(client: gcore.Gcore) -> None:
    group = client.cloud.security_groups.create_and_poll(name="templated")
    assert {(r.direction, r.ethertype, r.protocol) for r in group.security_group_rules} == {
        ("ingress", "IPv4", None),
        ("ingress", "IPv6", None),
        ("egress", "IPv4", None),
        ("egress", "IPv6", None),
    }


def test_group_with_rules_and_read_only_tags(client: gcore.Gcore, emulator: GcoreEmulator) -> None:
    sgs = client.cloud.security_groups
    group = sgs.create_and_poll(
        name="ssh",
        rules=[
            {"direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22},
            {"direction": "egress", "protocol": None},
        ],
    )
    assert len(group.security_group_rules) == 2
    emulator.add_read_only_tag(group.id, "gcore_managed", "yes")
    after = sgs.update_and_poll(group.id, tags=None)
    assert [(t.key, t.read_only) for t in after.tags_v2] == [("gcore_managed", True)]

    # The desired rule set keeps only the egress rule.
    kept = sgs.update_and_poll(group.id, rules=[{"direction": "egress", "protocol": None}])
    assert [r.direction for r in kept.security_group_rules] == ["egress"]


def test_in_use_group_delete_is_conflict(client: gcore.Gcore, emulator: GcoreEmulator) -> None:
    group = client.cloud.security_groups.create_and_poll(name="attached", rules=[])
    emulator.mark_in_use(group.id)
    with pytest.raises(gcore.ConflictError):
        client.cloud.security_groups.delete(group.id)
    emulator.mark_in_use(group.id, False)
    client.cloud.security_groups.delete(group.id)


def test_list_pages_through_every_group(client: gcore.Gcore, emulator: GcoreEmulator) -> None:
    ids = {emulator.create_group(name=f"g{i}") for i in range(5)}
    page = client.cloud.security_groups.list(limit=2)
    assert page.count == 5 and len(page.results) == 2
    assert {g.id for g in page} == ids  # auto-pagination follows count/offset


def test_tasks_get_poll_and_list(client: gcore.Gcore) -> None:
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    created = client.cloud.security_groups.create(name="polled", rules=[])
    task = client.cloud.tasks.get(created.tasks[0])
    assert task.state in ("NEW", "RUNNING") and task.task_type == "create_security_group"
    assert task.created_resources is None

    done = client.cloud.tasks.poll(created.tasks[0])
    assert done.state == "FINISHED" and done.finished_on is not None
    assert done.created_resources is not None and done.created_resources.security_groups

    listed = client.cloud.tasks.list(
        project_id=[1],
        region_id=[1],
        state=["FINISHED"],
        task_type="create_security_group",
        from_timestamp=before,
        order_by="desc",
    )
    assert [t.id for t in listed] == [done.id]
    assert list(client.cloud.tasks.list(state=["ERROR"])) == []
    assert list(client.cloud.tasks.list(project_id=[2])) == []


def test_task_error_surfaces_in_the_sdk(client: gcore.Gcore, emulator: GcoreEmulator) -> None:
    emulator.fail_tasks("create_security_group", error="Quota exceeded for security groups")
    with pytest.raises(ValueError, match="Quota exceeded for security groups"):
        client.cloud.security_groups.create_and_poll(name="doomed", rules=[])
    assert list(client.cloud.security_groups.list(name="doomed")) == []


def test_rules_create_and_delete_and_poll(client: gcore.Gcore, emulator: GcoreEmulator) -> None:
    group_id = emulator.create_group(name="rules")
    rules = client.cloud.security_groups.rules
    rule = rules.create_and_poll(
        group_id,
        direction="ingress",
        ethertype="IPv6",
        protocol="icmp",
        remote_ip_prefix="::ffff:10.0.0.1",
    )
    assert (rule.protocol, rule.remote_ip_prefix) == ("ipv6-icmp", "::ffff:10.0.0.1/128")
    assert rule.security_group_id == group_id

    with pytest.raises(gcore.ConflictError):
        rules.create(
            group_id,
            direction="ingress",
            ethertype="IPv6",
            protocol="ipv6-icmp",
            remote_ip_prefix="::ffff:a00:1/128",
        )

    rules.delete_and_poll(rule.id, group_id=group_id)
    assert emulator.rules(group_id) == []
    with pytest.raises(gcore.NotFoundError):
        rules.delete(rule.id, group_id=group_id)


@pytest.mark.parametrize("protocol", ["tcp", "udp", "sctp", "dccp", "udplite"])
def test_whole_port_range_is_stored_as_no_range(
    client: gcore.Gcore, emulator: GcoreEmulator, protocol: str
) -> None:
    """Neutron's ``_make_canonical_port_range``: 1..65535 is stored as null/null and is the
    same rule as one without ports (409 either way round), as the SDK sees it."""
    group_id = emulator.create_group(name="all-ports")
    rules = client.cloud.security_groups.rules
    rule = rules.create_and_poll(
        group_id, direction="ingress", protocol=protocol, port_range_min=1, port_range_max=65535
    )
    assert (rule.protocol, rule.port_range_min, rule.port_range_max) == (protocol, None, None)
    with pytest.raises(gcore.ConflictError):
        rules.create(group_id, direction="ingress", protocol=protocol)

    egress = rules.create_and_poll(group_id, direction="egress", protocol=protocol)
    with pytest.raises(gcore.ConflictError):
        rules.create(
            group_id, direction="egress", protocol=protocol, port_range_min=1, port_range_max=65535
        )
    narrower = rules.create_and_poll(
        group_id, direction="egress", protocol=protocol, port_range_min=1, port_range_max=65534
    )
    assert (narrower.port_range_min, narrower.port_range_max) == (1, 65534)
    with pytest.warns(DeprecationWarning):
        replaced = rules.replace(
            narrower.id, direction="ingress", protocol=protocol, port_range_min=1,
            port_range_max=65535, remote_ip_prefix="10.0.0.0/8",
        )  # fmt: skip
    assert (replaced.port_range_min, replaced.port_range_max) == (None, None)
    fetched = client.cloud.security_groups.get(group_id).security_group_rules
    assert sorted(r.id for r in fetched) == sorted([rule.id, egress.id, replaced.id])
    assert all(r.port_range_min is None and r.port_range_max is None for r in fetched)


def test_duplicate_rule_as_task_error(client: gcore.Gcore, emulator: GcoreEmulator) -> None:
    emulator.duplicate_mode = "task_error"
    group_id = emulator.create_group(name="dups")
    existing = emulator.add_rule(group_id, direction="egress")
    with pytest.raises(ValueError, match=f"already exists.*{existing['id']}"):
        client.cloud.security_groups.rules.create_and_poll(group_id, direction="egress")
    assert [r["id"] for r in emulator.rules(group_id)] == [existing["id"]]


def test_v1_rule_replace_as_the_sdk_sends_it(client: gcore.Gcore, emulator: GcoreEmulator) -> None:
    """SDK 0.59's ``replace`` (generated from Gcore's current OpenAPI) sends the v1 PUT
    without ``security_group_id``: the rule is replaced in its own group."""
    group_id = emulator.create_group(name="current")
    other = emulator.create_group(name="other")
    old = emulator.add_rule(
        group_id, direction="ingress", protocol="tcp", port_range_min=80, port_range_max=80
    )
    with pytest.warns(DeprecationWarning):
        new = client.cloud.security_groups.rules.replace(
            old["id"], direction="ingress", protocol="tcp", port_range_min=443, port_range_max=443
        )
    assert new.id != old["id"] and new.security_group_id == group_id
    assert (new.port_range_min, new.port_range_max) == (443, 443)
    assert [r["id"] for r in emulator.rules(group_id)] == [new.id]
    assert emulator.rules(other) == []


def test_v1_rule_replace_naming_another_group_is_refused(
    client: gcore.Gcore, emulator: GcoreEmulator
) -> None:
    """With ``security_group_id`` (older docs' shape) it must be the rule's own group; a
    refused PUT leaves the rule as it was."""
    group_id = emulator.create_group(name="mine")
    other = emulator.create_group(name="theirs")
    old = emulator.add_rule(group_id, direction="egress")
    with pytest.warns(DeprecationWarning), pytest.raises(gcore.BadRequestError) as caught:
        client.cloud.security_groups.rules.replace(
            old["id"], direction="ingress", extra_body={"security_group_id": other}
        )
    assert "security_group_id" in str(caught.value)
    assert [r["id"] for r in emulator.rules(group_id)] == [old["id"]]
    assert emulator.rules(other) == []


def test_v1_rule_replace_still_in_the_sdk(client: gcore.Gcore, emulator: GcoreEmulator) -> None:
    """Older docs' shape: the SDK's own ``extra_body`` adds ``security_group_id`` (the
    rule's group)."""
    group_id = emulator.create_group(name="legacy")
    old = emulator.add_rule(
        group_id, direction="ingress", protocol="tcp", port_range_min=80, port_range_max=80
    )
    with pytest.warns(DeprecationWarning):
        new = client.cloud.security_groups.rules.replace(
            old["id"],
            direction="ingress",
            protocol="tcp",
            port_range_min=443,
            port_range_max=443,
            extra_body={"security_group_id": group_id},
        )
    assert new.id != old["id"] and new.port_range_min == 443
    assert [r["id"] for r in emulator.rules(group_id)] == [new.id]


def test_list_filters_by_name_tag_keys_and_tag_key_value(
    client: gcore.Gcore, emulator: GcoreEmulator
) -> None:
    """What get_security_groups sends: ``tag_key`` repeated (every key must be present: AND)
    and ``tag_key_value`` as a JSON object (every pair must match), with paging."""
    web = emulator.create_group(name="web", tags={"env": "prod", "tier": "web"})
    db = emulator.create_group(name="db", tags={"env": "prod"})
    emulator.create_group(name="web", tags={"env": "dev", "tier": "web"})
    sgs = client.cloud.security_groups

    def ids(**query: Any) -> set[str]:
        return {g.id for g in sgs.list(limit=1, **query)}  # pages of one: paging is followed

    assert ids(tag_key=["env", "tier"], tag_key_value=json.dumps({"env": "prod"})) == {web}
    assert ids(tag_key_value=json.dumps({"env": "prod"})) == {web, db}
    assert len(ids(name="web")) == 2 and ids(name="web", tag_key=["tier"]) == ids(name="web")
    assert ids(tag_key=["nope"]) == set()


def test_patch_rules_is_desired_state_as_the_sdk_sends_it(
    client: gcore.Gcore, emulator: GcoreEmulator
) -> None:
    """The SDK's update_and_poll(rules=...) is the group's COMPLETE rule set: a hand-made rule
    not listed is deleted, a listed one made; the same set again makes no task."""
    ssh = {"direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}
    sgs = client.cloud.security_groups
    group = sgs.create_and_poll(name="set", rules=[ssh, {"direction": "egress"}])
    emulator.add_rule(group.id, direction="ingress", protocol="tcp", port_range_min=3389,
                      port_range_max=3389)  # fmt: skip
    after = sgs.update_and_poll(group.id, rules=[ssh, {"direction": "egress"}])
    assert sorted((r.direction, r.port_range_min) for r in after.security_group_rules) == [
        ("egress", None),
        ("ingress", 22),
    ]
    assert sgs.update(group.id, rules=[{"direction": "egress"}, ssh]).tasks == []
