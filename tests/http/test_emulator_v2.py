"""The emulator's groups, v2 endpoints and tasks answer as the reference says Gcore does.

Over real HTTP with ``requests``. Task timing is observed, not assumed: a change must be
invisible while its task is NEW or RUNNING and visible on the very next request after it
finished.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from gcore_pulumi.testing import DEFAULT_TEMPLATE, GcoreEmulator

pytest_plugins = ["gcore_pulumi.testing.pytest_plugin"]

AUTH = {"Authorization": "APIKey test-api-key"}
TASK_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"
SSH = {"direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}
TASK_KEYS = {
    "id",
    "task_type",
    "state",
    "detailed_state",
    "error",
    "created_on",
    "updated_on",
    "finished_on",
    "created_resources",
    "project_id",
    "region_id",
    "request_id",
    "user_id",
    "client_id",
    "user_client_id",
    "acknowledged_at",
    "acknowledged_by",
    "data",
    "job_id",
    "lifecycle_policy_id",
    "schedule_id",
}


class Cloud:
    """A requests.Session speaking to the emulator, project 1 / region 1 unless told."""

    def __init__(self, emulator: GcoreEmulator, project_id: int = 1, region_id: int = 1) -> None:
        self.emulator = emulator
        self.session = requests.Session()
        self.session.headers.update(AUTH)
        self.base = emulator.base_url
        self.pr = f"{project_id}/{region_id}"

    def __enter__(self) -> Cloud:
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.close()

    def call(self, method: str, path: str, **kw: Any) -> requests.Response:
        return self.session.request(method, self.base + path, **kw)

    # v1
    def group(self, group_id: str) -> requests.Response:
        return self.call("GET", f"/cloud/v1/securitygroups/{self.pr}/{group_id}")

    def groups(self, **params: Any) -> requests.Response:
        return self.call("GET", f"/cloud/v1/securitygroups/{self.pr}", params=params)

    def delete_group(self, group_id: str) -> requests.Response:
        return self.call("DELETE", f"/cloud/v1/securitygroups/{self.pr}/{group_id}")

    # v2
    def create_group(self, body: Any) -> requests.Response:
        return self.call("POST", f"/cloud/v2/security_groups/{self.pr}", json=body)

    def patch_group(self, group_id: str, body: Any) -> requests.Response:
        return self.call("PATCH", f"/cloud/v2/security_groups/{self.pr}/{group_id}", json=body)

    def create_rule(self, group_id: str, body: Any) -> requests.Response:
        path = f"/cloud/v2/security_groups/{self.pr}/{group_id}/rules"
        return self.call("POST", path, json=body)

    def delete_rule(self, group_id: str, rule_id: str) -> requests.Response:
        path = f"/cloud/v2/security_groups/{self.pr}/{group_id}/rules/{rule_id}"
        return self.call("DELETE", path)

    # tasks
    def task(self, task_id: str) -> requests.Response:
        return self.call("GET", f"/cloud/v1/tasks/{task_id}")

    def tasks(self, **params: Any) -> requests.Response:
        return self.call("GET", "/cloud/v1/tasks", params=params)

    def one_task(self, response: requests.Response) -> str:
        assert response.status_code == 200, response.text
        tasks = response.json()["tasks"]
        assert isinstance(tasks, list) and len(tasks) == 1
        return str(tasks[0])

    def wait(self, task_id: str, timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            task: dict[str, Any] = self.task(task_id).json()
            if task["state"] in ("FINISHED", "ERROR") or time.monotonic() > deadline:
                return task
            time.sleep(0.005)

    def run(self, response: requests.Response) -> dict[str, Any]:
        """Wait for the single task of an async answer; return it."""
        return self.wait(self.one_task(response))

    def new_group(self, **body: Any) -> str:
        body.setdefault("name", "g")
        body.setdefault("rules", [])
        task = self.run(self.create_group(body))
        assert task["state"] == "FINISHED", task
        return str(task["created_resources"]["security_groups"][0])


@pytest.fixture
def emulator() -> Iterator[GcoreEmulator]:
    with GcoreEmulator(task_delay=0.02) as api:
        yield api


@pytest.fixture
def cloud(emulator: GcoreEmulator) -> Iterator[Cloud]:
    client = Cloud(emulator)
    try:
        yield client
    finally:
        client.session.close()


def assert_error(response: requests.Response, status: int, exception_class: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["exception_class"] == exception_class and body["message"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def no_tasks(emulator: GcoreEmulator) -> bool:
    return emulator.tasks() == []


# --------------------------------------------------------------------------------------
# group object
# --------------------------------------------------------------------------------------


def test_group_object_has_string_description_and_tags_v2(
    cloud: Cloud, emulator: GcoreEmulator
) -> None:
    plain = emulator.create_group(name="plain")
    tagged = emulator.create_group(name="tagged", description="d", tags={"env": "prod"})
    emulator.add_read_only_tag(tagged, "gcore_owner", "billing")
    body = cloud.group(plain).json()
    assert body["description"] == "" and body["tags_v2"] == []
    body = cloud.group(tagged).json()
    assert body["description"] == "d"
    assert body["tags_v2"] == [
        {"key": "gcore_owner", "value": "billing", "read_only": True},
        {"key": "env", "value": "prod", "read_only": False},
    ]
    assert body["region"] and isinstance(body["revision_number"], int)


def test_out_of_band_update_and_rename_show_in_get(cloud: Cloud, emulator: GcoreEmulator) -> None:
    group_id = emulator.create_group(name="a")
    before = cloud.group(group_id).json()["revision_number"]
    emulator.rename_group(group_id, "b")
    emulator.update_group(group_id, description="drifted", tags={"k": "v"})
    body = cloud.group(group_id).json()
    assert (body["name"], body["description"]) == ("b", "drifted")
    assert body["tags_v2"] == [{"key": "k", "value": "v", "read_only": False}]
    assert body["revision_number"] > before
    with pytest.raises(KeyError):
        emulator.update_group(str(uuid.uuid4()), name="x")


# --------------------------------------------------------------------------------------
# group list
# --------------------------------------------------------------------------------------


def test_list_filters_by_name_and_tags(cloud: Cloud, emulator: GcoreEmulator) -> None:
    web = emulator.create_group(name="web", tags={"env": "prod", "team": "a"})
    web2 = emulator.create_group(name="web", tags={"env": "dev"})
    db = emulator.create_group(name="db", tags={"team": "a"})
    emulator.add_read_only_tag(db, "gcore_sys", "1")
    emulator.create_group(project_id=2, name="web", tags={"env": "prod"})

    def ids(**params: Any) -> list[str]:
        body = cloud.groups(**params).json()
        assert body["count"] == len(body["results"])
        return [g["id"] for g in body["results"]]

    assert ids() == [web, web2, db]
    assert ids(name="web") == [web, web2]
    assert ids(name="we") == []  # exact full name only
    assert ids(tag_key="team") == [web, db]
    assert ids(tag_key=["team", "env"]) == [web]
    assert ids(tag_key="gcore_sys") == [db]  # read-only tags count too
    assert ids(tag_key_value=json.dumps({"env": "prod"})) == [web]
    assert ids(tag_key_value=json.dumps({"env": "prod", "team": "b"})) == []
    assert ids(name="web", tag_key_value=json.dumps({"env": "dev"})) == [web2]


def test_list_limit_and_offset(cloud: Cloud, emulator: GcoreEmulator) -> None:
    made = [emulator.create_group(name=f"g{i}") for i in range(12)]
    first = cloud.groups().json()
    assert first["count"] == 12 and [g["id"] for g in first["results"]] == made[:10]
    page = cloud.groups(limit=5, offset=10).json()
    assert page["count"] == 12 and [g["id"] for g in page["results"]] == made[10:]
    assert cloud.groups(limit=1000).json()["count"] == 12
    assert cloud.groups(offset=50).json() == {"count": 12, "results": []}


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "ten"},
        {"limit": "-1"},
        {"offset": "-1"},
        {"offset": "x"},
        {"tag_key_value": "env=prod"},
        {"tag_key_value": "[1]"},
        {"tag_key_value": json.dumps({"env": 1})},
    ],
)
def test_list_bad_query_is_400(cloud: Cloud, params: dict[str, str]) -> None:
    body = assert_error(cloud.groups(**params), 400, "ValidationError")
    assert set(body["invalid_fields"]) == set(params)


# --------------------------------------------------------------------------------------
# group delete
# --------------------------------------------------------------------------------------


def test_delete_group_is_204_then_404_and_takes_rules(
    cloud: Cloud, emulator: GcoreEmulator
) -> None:
    doomed = emulator.create_group(name="doomed")
    other = emulator.create_group(name="other")
    emulator.add_rule(doomed, **SSH)
    kept = emulator.add_rule(other, direction="egress")
    referencing = emulator.add_rule(other, direction="ingress", remote_group_id=doomed)
    first = cloud.delete_group(doomed)
    assert first.status_code == 204 and first.content == b""
    assert_error(cloud.group(doomed), 404, "NotFoundError")
    assert_error(cloud.delete_group(doomed), 404, "NotFoundError")
    assert [r["id"] for r in emulator.rules(other)] == [kept["id"]]
    assert referencing["id"] not in {r["id"] for r in emulator.all_rules()}
    assert {r["security_group_id"] for r in emulator.all_rules()} == {other}


def test_delete_group_in_use_is_409_until_released(cloud: Cloud, emulator: GcoreEmulator) -> None:
    group_id = emulator.create_group(name="attached")
    emulator.add_rule(group_id, **SSH)
    emulator.mark_in_use(group_id)
    body = assert_error(cloud.delete_group(group_id), 409, "ConflictError")
    assert "detach" in body["message"]
    assert len(emulator.rules(group_id)) == 1
    emulator.mark_in_use(group_id, False)
    assert cloud.delete_group(group_id).status_code == 204


def test_delete_group_of_other_project_is_404(cloud: Cloud, emulator: GcoreEmulator) -> None:
    group_id = emulator.create_group(project_id=2, name="elsewhere")
    assert_error(cloud.delete_group(group_id), 404, "NotFoundError")
    assert emulator.group(group_id)["name"] == "elsewhere"


# --------------------------------------------------------------------------------------
# v2 group create
# --------------------------------------------------------------------------------------


def test_group_appears_only_when_its_task_finishes(emulator: GcoreEmulator) -> None:
    emulator.task_delay = 0.6
    with Cloud(emulator) as cloud:
        task_id = cloud.one_task(cloud.create_group({"name": "slow", "rules": []}))
        task = cloud.task(task_id).json()
        assert task["state"] == "NEW" and task["created_resources"] is None
        assert cloud.groups(name="slow").json()["count"] == 0
        time.sleep(0.32)
        assert cloud.task(task_id).json()["state"] == "RUNNING"
        assert cloud.groups(name="slow").json()["count"] == 0
        time.sleep(0.32)
        listing = cloud.groups(name="slow").json()  # no task read needed to see the change
        assert listing["count"] == 1
        task = cloud.task(task_id).json()
        assert task["state"] == "FINISHED"
        assert task["created_resources"]["security_groups"] == [listing["results"][0]["id"]]


def test_create_body_and_group_fields(cloud: Cloud, emulator: GcoreEmulator) -> None:
    group_id = cloud.new_group(name="web", description="front", tags={"env": "prod"})
    body = cloud.group(group_id).json()
    assert (body["name"], body["description"]) == ("web", "front")
    assert body["tags_v2"] == [{"key": "env", "value": "prod", "read_only": False}]
    assert body["security_group_rules"] == []
    assert (body["project_id"], body["region_id"]) == (1, 1)


def test_omitted_rules_apply_the_default_template(cloud: Cloud) -> None:
    task = cloud.run(cloud.create_group({"name": "templated"}))
    group_id = task["created_resources"]["security_groups"][0]
    rules = cloud.group(group_id).json()["security_group_rules"]
    got = {
        (r["direction"], r["ethertype"], r["protocol"], r["remote_ip_prefix"], r["port_range_min"])
        for r in rules
    }
    assert got == {
        (d, e, None, None, None) for d in ("ingress", "egress") for e in ("IPv4", "IPv6")
    }
    assert len(rules) == len(DEFAULT_TEMPLATE) == 4
    assert sorted(task["created_resources"]["security_group_rules"]) == sorted(
        r["id"] for r in rules
    )


def test_rules_list_makes_exactly_those(cloud: Cloud) -> None:
    icmp6 = {"direction": "ingress", "ethertype": "IPv6", "protocol": "icmp"}
    group_id = cloud.new_group(name="listed", rules=[SSH, {"direction": "egress"}, icmp6])
    rules = cloud.group(group_id).json()["security_group_rules"]
    assert [(r["direction"], r["protocol"]) for r in rules] == [
        ("ingress", "tcp"),
        ("egress", None),
        ("ingress", "ipv6-icmp"),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"name": 5}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": "a", "description": None}, "description"),
        ({"name": "a", "tags": {"bad key": "v"}}, "tags"),
        ({"name": "a", "tags": {"k": "a=b"}}, "tags.k"),
        ({"name": "a", "tags": {"k": ""}}, "tags.k"),
        ({"name": "a", "tags": ["k"]}, "tags"),
        ({"name": "a", "rules": {}}, "rules"),
        ({"name": "a", "rules": [SSH, {"direction": "sideways"}]}, "rules.1.direction"),
        ({"name": "a", "rules": [{"direction": "ingress", "protocol": "any"}]}, "rules.0.protocol"),
        ({"name": "a", "rules": [SSH, dict(SSH, description="again")]}, "rules.1"),
        ([], "_schema"),
    ],
)
def test_bad_create_body_is_400_and_makes_no_task(
    cloud: Cloud, emulator: GcoreEmulator, body: Any, field: str
) -> None:
    response = cloud.create_group(body)
    assert field in assert_error(response, 400, "ValidationError")["invalid_fields"]
    assert no_tasks(emulator) and emulator.groups() == []


def test_unknown_remote_group_in_create_is_404(cloud: Cloud, emulator: GcoreEmulator) -> None:
    rule = {"direction": "ingress", "remote_group_id": str(uuid.uuid4())}
    assert_error(cloud.create_group({"name": "a", "rules": [rule]}), 404, "NotFoundError")
    assert no_tasks(emulator)


def test_names_need_not_be_unique(cloud: Cloud) -> None:
    first, second = cloud.new_group(name="same"), cloud.new_group(name="same")
    assert first != second and cloud.groups(name="same").json()["count"] == 2


# --------------------------------------------------------------------------------------
# v2 group PATCH
# --------------------------------------------------------------------------------------


def test_patch_without_change_gives_no_task(cloud: Cloud, emulator: GcoreEmulator) -> None:
    group_id = emulator.create_group(name="same", description="d", tags={"k": "v"})
    emulator.add_rule(group_id, **SSH)
    before = cloud.group(group_id).json()
    for body in (
        {},
        {"name": "same"},
        {"description": "d", "tags": {"k": "v"}},
        {"tags": {"gone": None}},
        {"rules": [SSH]},
    ):
        response = cloud.patch_group(group_id, body)
        assert response.status_code == 200 and response.json() == {"tasks": []}, body
    assert cloud.group(group_id).json() == before
    assert no_tasks(emulator)


def test_tags_merge_patch_applies_at_once_without_task(
    cloud: Cloud, emulator: GcoreEmulator
) -> None:
    group_id = emulator.create_group(name="t", tags={"a": "1", "b": "2"})
    emulator.add_read_only_tag(group_id, "sys", "x")
    patch = {"tags": {"a": None, "b": "20", "c": "3"}}
    assert cloud.patch_group(group_id, patch).json() == {"tasks": []}
    tags = {t["key"]: (t["value"], t["read_only"]) for t in cloud.group(group_id).json()["tags_v2"]}
    assert tags == {"sys": ("x", True), "b": ("20", False), "c": ("3", False)}

    assert cloud.patch_group(group_id, {"tags": None}).json() == {"tasks": []}
    assert cloud.group(group_id).json()["tags_v2"] == [
        {"key": "sys", "value": "x", "read_only": True}
    ]
    assert no_tasks(emulator)


def test_patch_naming_a_read_only_tag_is_400(cloud: Cloud, emulator: GcoreEmulator) -> None:
    group_id = emulator.create_group(name="t", tags={"a": "1"})
    emulator.add_read_only_tag(group_id, "sys", "x")
    for tags in ({"sys": "y"}, {"sys": None}):
        response = cloud.patch_group(group_id, {"name": "renamed", "tags": {**tags, "a": "2"}})
        assert "tags" in assert_error(response, 400, "ValidationError")["invalid_fields"]
    body = cloud.group(group_id).json()
    assert body["name"] == "t" and {t["key"]: t["value"] for t in body["tags_v2"]}["a"] == "1"
    assert no_tasks(emulator)


def test_rename_happens_when_the_task_finishes(emulator: GcoreEmulator) -> None:
    emulator.task_delay = 0.3
    with Cloud(emulator) as cloud:
        group_id = emulator.create_group(name="old", tags={"k": "v"})
        response = cloud.patch_group(group_id, {"name": "new", "tags": {"k": "w"}})
        task_id = cloud.one_task(response)
        body = cloud.group(group_id).json()
        assert body["name"] == "old"  # not yet
        assert body["tags_v2"][0]["value"] == "w"  # tags do not wait for the task
        task = cloud.wait(task_id)
        assert (task["state"], task["task_type"]) == ("FINISHED", "update_security_group")
        assert cloud.group(group_id).json()["name"] == "new"


def test_patch_rules_is_the_complete_desired_set(cloud: Cloud, emulator: GcoreEmulator) -> None:
    group_id = emulator.create_group(name="r")
    keep = emulator.add_rule(group_id, **SSH)
    emulator.add_rule(group_id, direction="egress")
    https = {
        "direction": "ingress",
        "protocol": "tcp",
        "port_range_min": 443,
        "port_range_max": 443,
    }
    task = cloud.run(cloud.patch_group(group_id, {"rules": [SSH, https]}))
    rules = cloud.group(group_id).json()["security_group_rules"]
    assert [r["port_range_min"] for r in rules] == [22, 443]
    assert rules[0]["id"] == keep["id"]  # an unchanged rule keeps its id
    assert task["created_resources"]["security_group_rules"] == [rules[1]["id"]]
    cloud.run(cloud.patch_group(group_id, {"rules": []}))
    assert emulator.rules(group_id) == []


def test_patch_of_unknown_group_is_404_and_bad_body_400(
    cloud: Cloud, emulator: GcoreEmulator
) -> None:
    assert_error(cloud.patch_group(str(uuid.uuid4()), {"name": "x"}), 404, "NotFoundError")
    group_id = emulator.create_group(name="x")
    for body in ({"name": None}, {"name": ""}, {"tags": {"a b": "c"}}, {"rules": [{}]}):
        assert_error(cloud.patch_group(group_id, body), 400, "ValidationError")
    assert no_tasks(emulator)


def test_patch_task_on_group_deleted_meanwhile_ends_in_error(emulator: GcoreEmulator) -> None:
    emulator.task_delay = 0.3
    with Cloud(emulator) as cloud:
        group_id = emulator.create_group(name="x")
        task_id = cloud.one_task(cloud.patch_group(group_id, {"name": "y"}))
        emulator.delete_group(group_id)
        task = cloud.wait(task_id)
        assert task["state"] == "ERROR" and group_id in task["error"]
        assert task["created_resources"] is None


# --------------------------------------------------------------------------------------
# v2 rules
# --------------------------------------------------------------------------------------


def test_rule_create_applies_when_task_finishes(emulator: GcoreEmulator) -> None:
    emulator.task_delay = 0.3
    with Cloud(emulator) as cloud:
        group_id = emulator.create_group(name="g")
        task_id = cloud.one_task(cloud.create_rule(group_id, SSH))
        assert cloud.group(group_id).json()["security_group_rules"] == []
        task = cloud.wait(task_id)
        assert (task["state"], task["task_type"]) == ("FINISHED", "create_security_group_rule")
        rules = cloud.group(group_id).json()["security_group_rules"]
        assert task["created_resources"]["security_group_rules"] == [rules[0]["id"]]
        assert rules[0]["protocol"] == "tcp"


def test_v2_protocol_null_means_all_and_any_is_refused(
    cloud: Cloud, emulator: GcoreEmulator
) -> None:
    group_id = emulator.create_group(name="g")
    body = assert_error(
        cloud.create_rule(group_id, {"direction": "egress", "protocol": "any"}),
        400,
        "ValidationError",
    )
    assert "protocol" in body["invalid_fields"] and no_tasks(emulator)
    cloud.run(cloud.create_rule(group_id, {"direction": "egress", "protocol": None}))
    assert emulator.rules(group_id)[0]["protocol"] is None


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_ipv6_icmp_is_stored_canonically_and_icmpv6_refused(
    cloud: Cloud, emulator: GcoreEmulator, version: str
) -> None:
    group_id = emulator.create_group(name="g")

    def post(body: dict[str, Any]) -> requests.Response:
        if version == "v1":
            return cloud.call("POST", f"/cloud/v1/securitygroups/1/1/{group_id}/rules", json=body)
        return cloud.create_rule(group_id, body)

    icmp = {"direction": "ingress", "ethertype": "IPv6", "protocol": "icmp"}
    response = post(icmp)
    if version == "v2":
        cloud.run(response)
    assert [r["protocol"] for r in emulator.rules(group_id)] == ["ipv6-icmp"]
    # the same rule spelled the other way is a duplicate
    assert_error(post({**icmp, "protocol": "ipv6-icmp"}), 409, "ConflictError")
    body = assert_error(post({**icmp, "protocol": "icmpv6"}), 400, "ValidationError")
    assert "protocol" in body["invalid_fields"]
    # IPv4 icmp stays icmp
    emulator.add_rule(group_id, direction="ingress", protocol="icmp")
    assert sorted(r["protocol"] for r in emulator.rules(group_id)) == ["icmp", "ipv6-icmp"]


def test_duplicate_mode_409_refuses_at_once(cloud: Cloud, emulator: GcoreEmulator) -> None:
    group_id = emulator.create_group(name="g")
    existing = emulator.add_rule(group_id, **SSH)
    body = assert_error(cloud.create_rule(group_id, SSH), 409, "ConflictError")
    assert existing["id"] in body["message"] and no_tasks(emulator)


def test_duplicate_mode_task_error(cloud: Cloud, emulator: GcoreEmulator) -> None:
    emulator.duplicate_mode = "task_error"
    group_id = emulator.create_group(name="g")
    existing = emulator.add_rule(group_id, **SSH)
    task = cloud.run(cloud.create_rule(group_id, dict(SSH, description="twin")))
    assert task["state"] == "ERROR" and task["created_resources"] is None
    assert "already exists" in task["error"] and existing["id"] in task["error"]
    assert [r["id"] for r in emulator.rules(group_id)] == [existing["id"]]
    with pytest.raises(ValueError, match="duplicate_mode"):
        emulator.duplicate_mode = "maybe"  # type: ignore[assignment]


def test_twin_creates_in_flight_one_wins_one_errors(emulator: GcoreEmulator) -> None:
    emulator.task_delay = 0.1
    with Cloud(emulator) as cloud:
        group_id = emulator.create_group(name="g")
        first = cloud.one_task(cloud.create_rule(group_id, SSH))
        second = cloud.one_task(cloud.create_rule(group_id, SSH))  # no twin yet: accepted
        a, b = cloud.wait(first), cloud.wait(second)
        assert (a["state"], b["state"]) == ("FINISHED", "ERROR")
        assert a["created_resources"]["security_group_rules"][0] in b["error"]
        assert len(emulator.rules(group_id)) == 1


def test_rule_create_in_unknown_or_vanished_group(emulator: GcoreEmulator) -> None:
    emulator.task_delay = 0.3
    with Cloud(emulator) as cloud:
        assert_error(cloud.create_rule(str(uuid.uuid4()), SSH), 404, "NotFoundError")
        group_id = emulator.create_group(name="g")
        task_id = cloud.one_task(cloud.create_rule(group_id, SSH))
        emulator.delete_group(group_id)
        task = cloud.wait(task_id)
        assert task["state"] == "ERROR" and group_id in task["error"]
        assert emulator.all_rules() == []


def test_rule_delete_v2(cloud: Cloud, emulator: GcoreEmulator) -> None:
    group_id = emulator.create_group(name="g")
    other = emulator.create_group(name="other")
    rule = emulator.add_rule(group_id, **SSH)
    # a rule of another group, and an unknown rule, are 404 at once
    assert_error(cloud.delete_rule(other, rule["id"]), 404, "NotFoundError")
    assert_error(cloud.delete_rule(group_id, str(uuid.uuid4())), 404, "NotFoundError")
    assert_error(cloud.delete_rule(str(uuid.uuid4()), rule["id"]), 404, "NotFoundError")
    assert no_tasks(emulator)

    emulator.task_delay = 0.3
    first = cloud.one_task(cloud.delete_rule(group_id, rule["id"]))
    second = cloud.one_task(cloud.delete_rule(group_id, rule["id"]))  # still there: accepted
    assert len(emulator.rules(group_id)) == 1
    a, b = cloud.wait(first), cloud.wait(second)
    assert (a["state"], a["task_type"]) == ("FINISHED", "delete_security_group_rule")
    assert b["state"] == "ERROR" and rule["id"] in b["error"]
    assert emulator.rules(group_id) == []
    assert_error(cloud.delete_rule(group_id, rule["id"]), 404, "NotFoundError")


# --------------------------------------------------------------------------------------
# tasks
# --------------------------------------------------------------------------------------


def test_task_object_fields(cloud: Cloud, emulator: GcoreEmulator) -> None:
    response = cloud.create_group({"name": "t", "rules": []})
    task = cloud.task(cloud.one_task(response)).json()
    assert set(task) == TASK_KEYS
    assert (task["project_id"], task["region_id"]) == (1, 1)
    assert task["request_id"] == response.headers["X-Request-ID"]
    assert task["finished_on"] is None and task["error"] is None
    assert isinstance(task["user_id"], int)
    for key in ("created_on", "updated_on"):
        assert datetime.strptime(task[key], "%Y-%m-%dT%H:%M:%S")
    done = cloud.wait(task["id"])
    assert done["detailed_state"] == "FINISHED" and done["finished_on"] >= done["created_on"]
    assert done["updated_on"] == done["finished_on"]
    assert done["data"] == {"name": "t", "rules": []}
    assert emulator.task(task["id"]) == cloud.task(task["id"]).json()


def test_unknown_task_is_404(cloud: Cloud, emulator: GcoreEmulator) -> None:
    assert_error(cloud.task(str(uuid.uuid4())), 404, "NotFoundError")
    assert_error(cloud.call("POST", f"/cloud/v1/tasks/{uuid.uuid4()}"), 405, "MethodNotAllowed")
    with pytest.raises(KeyError):
        emulator.task(str(uuid.uuid4()))


def test_fail_tasks_on_demand(cloud: Cloud, emulator: GcoreEmulator) -> None:
    group_id = emulator.create_group(name="g")
    emulator.fail_tasks("create_security_group_rule", times=2, error="Neutron said no")
    for _ in range(2):
        task = cloud.run(cloud.create_rule(group_id, SSH))
        assert (task["state"], task["error"]) == ("ERROR", "Neutron said no")
        assert task["created_resources"] is None and task["detailed_state"] == "ERROR"
    other = cloud.new_group(name="unaffected")  # another type is not failed
    assert emulator.rules(group_id) == [] and emulator.group(other)
    assert cloud.run(cloud.create_rule(group_id, SSH))["state"] == "FINISHED"

    emulator.fail_tasks(error="anything fails")
    task = cloud.run(cloud.create_group({"name": "x"}))
    assert task["state"] == "ERROR" and cloud.groups(name="x").json()["count"] == 0
    with pytest.raises(ValueError):
        emulator.fail_tasks(times=0)


def test_per_type_delay_and_finish_tasks(cloud: Cloud, emulator: GcoreEmulator) -> None:
    emulator.task_delays["create_security_group"] = 60.0
    task_id = cloud.one_task(cloud.create_group({"name": "slow", "rules": []}))
    group_id = emulator.create_group(name="fast")
    rule_task = cloud.run(cloud.create_rule(group_id, SSH))  # other types: the default delay
    assert rule_task["state"] == "FINISHED"
    assert cloud.task(task_id).json()["state"] == "NEW"  # half of its 60 s are NEW
    emulator.finish_tasks()
    assert cloud.task(task_id).json()["state"] == "FINISHED"
    assert cloud.groups(name="slow").json()["count"] == 1
    with pytest.raises(ValueError):
        emulator.task_delay = -1
    with pytest.raises(ValueError):
        GcoreEmulator(task_delay=float("nan"))


def test_tasks_list_filters(cloud: Cloud, emulator: GcoreEmulator) -> None:
    start = datetime.now(timezone.utc) - timedelta(seconds=1)
    group_id = cloud.new_group(name="a")
    cloud.run(cloud.create_rule(group_id, SSH))
    emulator.task_delays["update_security_group"] = 60.0
    pending = cloud.one_task(cloud.patch_group(group_id, {"name": "b"}))
    with Cloud(emulator, project_id=2) as other:
        other.new_group(name="p2")

    def ids(**params: Any) -> list[str]:
        response = cloud.tasks(**params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["count"] >= len(body["results"])
        return [t["id"] for t in body["results"]]

    every = ids()
    assert len(every) == 4 and every[2] == pending
    assert ids(order_by="desc") == every[::-1]
    assert ids(sorting="desc") == every[::-1]
    assert ids(project_id=1) == every[:3]
    assert ids(project_id=[1, 2]) == every
    assert ids(region_id=7) == []
    assert ids(state="NEW") == [pending]  # NEW for the first half of its 60 s
    assert ids(state="RUNNING") == []
    assert ids(state=["NEW", "RUNNING"]) == [pending]
    assert ids(state="FINISHED") == [every[0], every[1], every[3]]
    assert ids(task_type="create_security_group_rule") == [every[1]]
    assert ids(limit=2, offset=1) == every[1:3]
    assert cloud.tasks(limit=1).json()["count"] == 4
    assert ids(from_timestamp=start.isoformat()) == every
    assert ids(from_timestamp=(start + timedelta(hours=1)).isoformat()) == []
    assert ids(to_timestamp=(start - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")) == []
    assert ids(to_timestamp=(start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")) == every
    assert ids(is_acknowledged="false") == every
    assert ids(is_acknowledged="true") == []


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "1001"},
        {"offset": "-3"},
        {"state": "DONE"},
        {"project_id": "one"},
        {"from_timestamp": "yesterday"},
        {"order_by": "up"},
        {"is_acknowledged": "maybe"},
    ],
)
def test_tasks_list_bad_query_is_400(cloud: Cloud, params: dict[str, str]) -> None:
    body = assert_error(cloud.tasks(**params), 400, "ValidationError")
    assert set(body["invalid_fields"]) == set(params)


# --------------------------------------------------------------------------------------
# routing
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/cloud/v2/security_groups/1/1", "POST"),
        ("GET", "/cloud/v2/security_groups/1/1/{g}", "PATCH"),
        ("PATCH", "/cloud/v1/securitygroups/1/1/{g}", "GET, DELETE"),
        ("GET", "/cloud/v2/security_groups/1/1/{g}/rules/{g}", "DELETE"),
        ("DELETE", "/cloud/v1/tasks", "GET"),
    ],
)
def test_wrong_method_is_405_with_allow(cloud: Cloud, method: str, path: str, allow: str) -> None:
    response = cloud.call(method, path.format(g=uuid.uuid4()), json={})
    assert_error(response, 405, "MethodNotAllowed")
    assert response.headers["Allow"] == allow


@pytest.mark.parametrize(
    "path",
    [
        "/cloud/v2/security_groups/x/1",
        "/cloud/v2/security_groups/1/1/{g}/rules/{g}/more",
        "/cloud/v2/securitygroups/1/1",
        "/cloud/v1/tasks/{g}/extra",
    ],
)
def test_unknown_v2_paths_are_404(cloud: Cloud, path: str) -> None:
    assert_error(cloud.call("GET", path.format(g=uuid.uuid4())), 404, "NotFoundError")


def test_remote_group_deleted_before_the_task_runs(emulator: GcoreEmulator) -> None:
    emulator.task_delay = 0.3
    with Cloud(emulator) as cloud:
        group_id = emulator.create_group(name="g")
        remote = emulator.create_group(name="remote")
        body = {"direction": "ingress", "remote_group_id": remote}
        rule_task = cloud.one_task(cloud.create_rule(group_id, body))
        group_task = cloud.one_task(cloud.create_group({"name": "new", "rules": [body]}))
        emulator.delete_group(remote)
        for task_id in (rule_task, group_task):
            task = cloud.wait(task_id)
            assert task["state"] == "ERROR" and remote in task["error"]
        assert emulator.all_rules() == [] and cloud.groups(name="new").json()["count"] == 0
