"""import-group's code generation (pure): the printed program declares the group with
adopt_id and exactly its rules, for any text Gcore may hold (quotes, newlines, unicode)."""

from __future__ import annotations

import ast
import builtins
import types
from typing import Any

from gcore_pulumi.group_schema import check_group_inputs, diff_group
from gcore_pulumi.importer import render_group, resource_name
from gcore_pulumi.rule_set import live_rules_output
from gcore_pulumi.schema import Defaults

GROUP_ID = "7f1c4c2e-3a55-4f5e-9a43-1f0e2b8c9d10"
REMOTE = "024a29e9-b4b7-4c91-9a46-505be123d9f8"


def rule(index: int, **fields: Any) -> dict[str, Any]:
    base = {"id": f"00000000-0000-4000-8000-{index:012d}", "direction": "ingress",
            "ethertype": "IPv4", "protocol": None, "port_range_min": None,
            "port_range_max": None, "remote_ip_prefix": None, "remote_group_id": None,
            "description": None}  # fmt: skip
    return {**base, **fields}


HOSTILE = 'web "tier" """\n\'); import os; os.system("x") #'
GROUP = {
    "id": GROUP_ID.upper(),
    "name": HOSTILE,
    "description": 'ünïcode\tand \\ backslash and """ \\N{x}',
    "tags_v2": [
        {"key": "env", "value": "prod", "read_only": False},
        {"key": "gcore_managed", "value": "yes", "read_only": True},
    ],
    "security_group_rules": [
        rule(
            1,
            protocol="tcp",
            port_range_min=22,
            port_range_max=22,
            remote_ip_prefix="203.0.113.7/32",
            description='ssh "admin"',
        ),
        rule(2, direction="egress"),
        rule(3, ethertype="IPv6", protocol="ipv6-icmp", port_range_min=128),
        rule(4, protocol="udp", port_range_min=53, port_range_max=53, remote_group_id=REMOTE),
    ],
}


def run_generated(text: str) -> dict[str, Any]:
    """Execute the program with stand-ins for pulumi and gcore_pulumi; the group's kwargs."""
    seen: dict[str, Any] = {}

    class RulesArgs:
        def __init__(self, **fields: Any) -> None:
            self.fields = fields

    def security_group(resource: str, **inputs: Any) -> Any:
        seen.update(inputs, resource=resource)
        return types.SimpleNamespace(id="id")

    fakes = {
        "pulumi": types.SimpleNamespace(export=lambda *a: None),
        "gcore_pulumi": types.SimpleNamespace(
            SecurityGroup=security_group, SecurityGroupRulesArgs=RulesArgs
        ),
    }

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        return fakes[name]

    scope = {"__builtins__": {**vars(builtins), "__import__": fake_import}}
    exec(compile(text, "<generated>", "exec"), scope)
    seen["rules"] = [r.fields for r in seen["rules"]]
    return seen


def test_the_program_declares_the_group_as_it_is_and_plans_no_change() -> None:
    text = render_group(GROUP, 1, 2)
    ast.parse(text)
    declared = run_generated(text)
    assert declared["name"] == HOSTILE and declared["adopt_id"] == GROUP_ID
    assert declared["description"] == GROUP["description"]
    assert declared["tags"] == {"env": "prod"}  # Gcore's read-only tag is not declared
    assert (declared["project_id"], declared["region_id"]) == (1, 2)
    # The declared rules, checked as the provider checks them, equal the live group's: the
    # group's diff against its state as a refresh reads it plans no change.
    program = {k: v for k, v in declared.items() if k not in ("resource", "adopt_id")}
    checked = check_group_inputs(program, Defaults(1, 2))
    assert checked.failures == []
    state = {**program, "rules": live_rules_output(GROUP["security_group_rules"])}
    assert not diff_group(state, checked.inputs, Defaults(1, 2)).changed
    assert len(declared["rules"]) == 4


def test_a_group_without_rules_declares_an_empty_set_not_omitted() -> None:
    declared = run_generated(render_group({**GROUP, "security_group_rules": []}, 1, 1))
    assert declared["rules"] == []


def test_resource_names_are_plain() -> None:
    assert resource_name(HOSTILE) == "web-tier-import-os-os-system-x"
    assert resource_name("!!!") == "security-group"
