"""Issue 15.1: "gone" needs Gcore to say so about the resource itself.

Gcore's own 404 body (``NotFoundError``) is also what it answers for a route that does not
exist: a ``gcore:baseUrl`` ending in a path (``.../cloud``, so every request goes to
``/cloud/cloud/v1/...``), or the day Gcore removes the deprecated v1 rule routes. Refresh and
destroy must then fail naming ``gcore:baseUrl`` and the URL tried, never drop a live rule or
group from the stack or report it deleted. A rule or group really deleted by hand is still
dropped. Every test drives a provider process over gRPC, as the engine does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderRpcError

from ..standin import StandIn
from .conftest import PROJECT, REGION, RULE_APIS, Engine, rule_inputs

SSH = {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22}


@pytest.fixture
def proxy(emulator: GcoreEmulator) -> Iterator[StandIn]:
    with StandIn(emulator.base_url) as standin:
        yield standin


def create_rule(engine: Engine, group: str) -> tuple[str, dict[str, Any]]:
    process = engine()
    checked = process.check(rule_inputs(group, **SSH))
    assert checked.failures == []
    return process.create(checked.inputs)


def create_group(groups: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    process = groups()
    checked = process.check({"name": "web", "tags": {"env": "prod"}})
    assert checked.failures == []
    group_id, outputs = process.create(checked.inputs)
    return group_id, outputs, checked.inputs


def error_of(call: Any, *args: Any) -> str:
    with pytest.raises(ProviderRpcError) as caught:
        call(*args)
    return caught.value.details.strip().splitlines()[-1]


def gcore_404(path: str) -> bytes:
    """Gcore's 404 body for a route it does not serve (what the emulator answers too)."""
    message = f"The requested resource {path} was not found."
    body = {"exception_class": "NotFoundError", "message": message, "request_id": "r-15-1"}
    return json.dumps(body).encode()


def test_the_emulator_answers_gcores_404_body_for_an_unknown_route(
    emulator: GcoreEmulator, group: str
) -> None:
    # The premise of every test below: a wrong base path gets Gcore's own NotFoundError body,
    # indistinguishable by its shape from "this group does not exist".
    url = f"{emulator.base_url}/cloud/cloud/v1/securitygroups/{PROJECT}/{REGION}/{group}"
    answer = requests.get(url, headers={"Authorization": f"APIKey {emulator.api_key}"})
    assert answer.status_code == 404
    assert answer.json()["exception_class"] == "NotFoundError"
    gone = requests.get(
        f"{emulator.base_url}/cloud/v1/securitygroups/{PROJECT}/{REGION}/{'0' * 8}",
        headers={"Authorization": f"APIKey {emulator.api_key}"},
    )
    assert gone.status_code == 404 and gone.json()["exception_class"] == "NotFoundError"


# --- a base URL ending in a path: every route is unknown ------------------------------------


@RULE_APIS
def test_refresh_with_base_url_ending_in_cloud_keeps_the_live_rule(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    rule_id, outputs = create_rule(engine, group)
    refresh = engine(**{"gcore:baseUrl": emulator.base_url + "/cloud"})
    message = error_of(refresh.read, rule_id, outputs, None)
    assert "gcore:baseUrl" in message and "/cloud/cloud/v1/" in message, message
    assert [r["id"] for r in emulator.rules(group)] == [rule_id]


@RULE_APIS
def test_destroy_with_base_url_ending_in_cloud_does_not_report_the_rule_deleted(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    rule_id, outputs = create_rule(engine, group)
    destroy = engine(**{"gcore:baseUrl": emulator.base_url + "/cloud"})
    message = error_of(destroy.delete, rule_id, outputs)
    assert "gcore:baseUrl" in message and "/cloud/cloud/" in message, message
    assert [r["id"] for r in emulator.rules(group)] == [rule_id]  # still open


def test_refresh_with_base_url_ending_in_cloud_keeps_the_live_group(
    groups: Any, emulator: GcoreEmulator
) -> None:
    group_id, outputs, inputs = create_group(groups)
    refresh = groups(**{"gcore:baseUrl": emulator.base_url + "/cloud"})
    message = error_of(refresh.read, group_id, outputs, inputs)
    assert "gcore:baseUrl" in message and "/cloud/cloud/v1/" in message, message
    assert [g["id"] for g in emulator.groups()] == [group_id]


def test_destroy_with_base_url_ending_in_cloud_does_not_report_the_group_deleted(
    groups: Any, emulator: GcoreEmulator
) -> None:
    group_id, outputs, _ = create_group(groups)
    destroy = groups(**{"gcore:baseUrl": emulator.base_url + "/cloud"})
    message = error_of(destroy.delete, group_id, outputs)
    assert "gcore:baseUrl" in message and "/cloud/cloud/" in message, message
    assert [g["id"] for g in emulator.groups()] == [group_id]


# --- the day Gcore removes the deprecated v1 rule routes ------------------------------------


def test_a_404_from_a_removed_v1_rule_route_is_not_a_delete(
    engine: Engine, emulator: GcoreEmulator, group: str, proxy: StandIn
) -> None:
    rule_id, outputs = create_rule(engine, group)
    route = f"/cloud/v1/securitygrouprules/{PROJECT}/{REGION}/{rule_id}"
    proxy.answer("DELETE", "^/cloud/v1/securitygrouprules/", 404, gcore_404(route),
                 {"Content-Type": "application/json"})  # fmt: skip
    destroy = engine(**{"gcore:baseUrl": proxy.base_url, "gcore:ruleApi": "v1"})
    message = error_of(destroy.delete, rule_id, outputs)
    assert route in message, message  # names the URL that was tried
    assert [r["id"] for r in emulator.rules(group)] == [rule_id]  # the rule is still open


# --- what really is gone still goes (must keep holding) -------------------------------------


@RULE_APIS
def test_a_rule_deleted_by_hand_is_dropped_by_refresh_and_destroy(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    rule_id, outputs = create_rule(engine, group)
    kept_id, _ = engine().create(engine().check(rule_inputs(group, protocol="udp")).inputs)
    emulator.remove_rule(rule_id)
    assert engine().read(rule_id, outputs, None).id == ""
    destroy = engine()
    destroy.delete(rule_id, outputs)
    assert [r["id"] for r in emulator.rules(group)] == [kept_id]  # the other rule untouched


@RULE_APIS
def test_rules_of_a_group_deleted_by_hand_are_dropped_by_refresh_and_destroy(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    rule_id, outputs = create_rule(engine, group)
    emulator.delete_group(group)
    assert engine().read(rule_id, outputs, None).id == ""
    engine().delete(rule_id, outputs)  # nothing left to delete: not an error


def test_a_group_deleted_by_hand_is_dropped_by_refresh_and_destroy(
    groups: Any, emulator: GcoreEmulator
) -> None:
    group_id, outputs, inputs = create_group(groups)
    other = emulator.create_group(PROJECT, REGION, name="someone-elses")
    emulator.delete_group(group_id)
    assert groups().read(group_id, outputs, inputs).id == ""
    groups().delete(group_id, outputs)
    assert [g["id"] for g in emulator.groups()] == [other]
