"""A group's ``rules``: checked rule by rule as SecurityGroupRule's own fields are, and
compared as a set of canonical rules (no I/O)."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.output import Unknown

from gcore_pulumi.group_schema import check_group_inputs, diff_group, group_patch
from gcore_pulumi.rule_set import (
    live_rules_output,
    rules_differ,
    rules_request_body,
)
from gcore_pulumi.schema import Defaults, check_inputs

DEFAULTS = Defaults(1, 1)
GROUP = "024a29e9-b4b7-4c91-9a46-505be123d9f8"
SSH = {"direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}


def check(**inputs: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    outcome = check_group_inputs({"name": "web", **inputs}, DEFAULTS)
    return outcome.inputs, outcome.failures


def live(*rules: dict[str, Any]) -> list[dict[str, Any]]:
    """Rules as a group read shows them (v2 style: null protocol, ids), made canonical."""
    shown = []
    for index, rule in enumerate(rules):
        raw = {
            "id": f"00000000-0000-4000-8000-{index:012d}",
            "ethertype": "IPv4",
            "protocol": None,
            "port_range_min": None,
            "port_range_max": None,
            "remote_ip_prefix": None,
            "remote_group_id": None,
            "description": None,
            **rule,
        }
        shown.append(raw)
    return live_rules_output(shown)


# --- check -------------------------------------------------------------------------------


def test_omitted_rules_stay_absent_and_empty_is_given() -> None:
    inputs, failures = check()
    assert failures == [] and "rules" not in inputs
    inputs, failures = check(rules=[])
    assert failures == [] and inputs["rules"] == []


def test_each_rule_is_checked_like_a_security_group_rule_and_named() -> None:
    wrong = {"port_range_min": 70000, "remote_ip_prefix": "nonsense", "colour": "red"}
    bad = [SSH, {**SSH, **wrong}]
    _, failures = check(rules=bad)
    keys = [key for key, _ in failures]
    assert "rules[1].port_range_min" in keys
    assert "rules[1].remote_ip_prefix" in keys
    assert "rules[1].colour" in keys
    assert not any(key.startswith("rules[0]") for key in keys)
    # the same reasons as SecurityGroupRule gives for the same fields
    alone = check_inputs({"group_id": GROUP, **bad[1]}, DEFAULTS).failures
    for key, reason in alone:
        if key in ("port_range_min", "remote_ip_prefix"):
            assert (f"rules[1].{key}", reason) in failures


def test_rule_defaults_and_canonical_forms_are_the_rule_resources() -> None:
    given = [
        {"direction": "ingress", "remote_ip_prefix": "2001:db8::1", "protocol": "icmp"},
        {"direction": "egress"},
    ]
    inputs, failures = check(rules=given)
    assert failures == []
    for checked, raw in zip(inputs["rules"], given, strict=True):
        alone = check_inputs({"group_id": GROUP, **raw}, DEFAULTS).inputs
        assert checked == {key: alone[key] for key in checked}
    assert inputs["rules"][0]["remote_ip_prefix"] == "2001:db8::1/128"
    assert inputs["rules"][0]["ethertype"] == "IPv6"
    assert inputs["rules"][0]["protocol"] == "ipv6-icmp"
    assert inputs["rules"][1]["protocol"] == "any"


def test_fields_that_belong_to_the_group_are_refused_in_a_rule() -> None:
    _, failures = check(rules=[{**SSH, "group_id": GROUP}])
    assert failures and failures[0][0] == "rules[0].group_id"
    assert "belongs to the group" in failures[0][1]


@pytest.mark.parametrize(
    "twin",
    [
        dict(SSH, description="other text"),  # description is not compared
        dict(SSH, remote_ip_prefix="0.0.0.0/0"),  # any prefix == no prefix
        dict(SSH, ethertype="IPv4"),  # the default spelt out
    ],
)
def test_duplicates_as_gcore_sees_them_fail_naming_both(twin: dict[str, Any]) -> None:
    _, failures = check(rules=[SSH, {"direction": "egress"}, twin])
    assert [key for key, _ in failures] == ["rules[2]"]
    assert "duplicate of rules[0]" in failures[0][1]


def test_not_a_list_or_not_a_rule_is_named() -> None:
    assert [k for k, _ in check(rules="tcp/22")[1]] == ["rules"]
    assert [k for k, _ in check(rules={"direction": "ingress"})[1]] == ["rules"]
    assert [k for k, _ in check(rules=[SSH, "udp"])[1]] == ["rules[1]"]


def test_preview_unknowns_are_kept_and_skipped() -> None:
    inputs, failures = check(rules=Unknown())
    assert failures == [] and isinstance(inputs["rules"], Unknown)
    inputs, failures = check(rules=[SSH, dict(SSH, remote_ip_prefix=Unknown())])
    assert failures == []  # the unknown twin is not called a duplicate
    _, failures = check(rules=[dict(SSH, port_range_min=0), Unknown()])
    assert [k for k, _ in failures] == ["rules[0].port_range_min"]


# --- diff --------------------------------------------------------------------------------


def olds_with(rules: Any) -> dict[str, Any]:
    olds: dict[str, Any] = {"name": "web", "description": "", "tags": {}, "project_id": 1,
                            "region_id": 1}  # fmt: skip
    if rules is not None:
        olds["rules"] = rules
    return olds


def news_with(rules: Any) -> dict[str, Any]:
    inputs, failures = check(**({} if rules is None else {"rules": rules}))
    assert failures == []
    return inputs


def test_the_set_is_a_set_order_and_spelling_plan_no_change() -> None:
    state = live(
        dict(SSH, protocol="tcp", remote_ip_prefix="203.0.113.7/32"),
        {"direction": "egress", "ethertype": "IPv6", "protocol": "ipv6-icmp"},
    )
    program = [
        {"direction": "egress", "ethertype": "IPv6", "protocol": "icmp"},
        dict(SSH, remote_ip_prefix="203.0.113.7"),
    ]
    for order in (program, program[::-1]):
        assert not diff_group(olds_with(state), news_with(order), DEFAULTS).changed
        assert not diff_group(olds_with(state[::-1]), news_with(order), DEFAULTS).changed


def test_a_rule_added_or_changed_by_hand_is_an_in_place_update() -> None:
    program = [SSH]
    added = live(SSH, {"direction": "ingress", "protocol": "tcp", "port_range_min": 3389,
                       "port_range_max": 3389})  # fmt: skip
    result = diff_group(olds_with(added), news_with(program), DEFAULTS)
    assert result.updates == ["rules"] and result.replaces == []
    redescribed = live(dict(SSH, description="changed by hand"))
    assert diff_group(olds_with(redescribed), news_with(program), DEFAULTS).updates == ["rules"]
    assert not diff_group(olds_with(live(SSH)), news_with(program), DEFAULTS).changed


def test_omitted_given_and_empty() -> None:
    # omitted -> given: the rules are taken over (an update)
    assert diff_group(olds_with(None), news_with([]), DEFAULTS).updates == ["rules"]
    # given -> omitted: the state stops managing them (an update; nothing sent about rules)
    assert diff_group(olds_with(live(SSH)), news_with(None), DEFAULTS).updates == ["rules"]
    # never managed, still omitted: no change (state of earlier versions has no rules)
    assert not diff_group(olds_with(None), news_with(None), DEFAULTS).changed
    # [] vs a group holding a rule: a change
    assert diff_group(olds_with(live(SSH)), news_with([]), DEFAULTS).updates == ["rules"]
    assert not diff_group(olds_with([]), news_with([]), DEFAULTS).changed


def test_unknown_rules_may_change_and_state_floats_are_numbers() -> None:
    assert rules_differ(live(SSH), Unknown())
    assert rules_differ(live(SSH), [dict(news_with([SSH])["rules"][0], port_range_min=Unknown())])
    floats = [dict(rule, port_range_min=22.0, port_range_max=22.0) for rule in live(SSH)]
    assert not rules_differ(floats, news_with([SSH])["rules"])


def test_group_patch_never_carries_rules_when_omitted() -> None:
    old = {"name": "a", "description": "", "tags": {}}
    assert "rules" not in group_patch(old, {"name": "b", "description": "", "tags": {}})


# --- bodies and outputs ------------------------------------------------------------------


def test_request_body_is_v2_shaped() -> None:
    rules = news_with([SSH, {"direction": "egress"}])["rules"]
    assert rules_request_body(rules) == [
        {
            "direction": "ingress",
            "ethertype": "IPv4",
            "protocol": "tcp",
            "port_range_min": 22,
            "port_range_max": 22,
            "description": "",
        },
        {"direction": "egress", "ethertype": "IPv4", "protocol": None, "description": ""},
    ]


def test_live_output_is_canonical_with_ids_and_stable_in_order() -> None:
    one = live(SSH, {"direction": "egress"})
    two = live({"direction": "egress"}, SSH)
    assert [{k: v for k, v in r.items() if k != "id"} for r in one] == [
        {k: v for k, v in r.items() if k != "id"} for r in two
    ]
    assert all(rule["id"] for rule in one)
    assert {rule["protocol"] for rule in one} == {"tcp", "any"}
