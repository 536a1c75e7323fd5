"""Programs with SecurityGroup, `.get()` and the lookups, run under set_mocks with dynamic
resources forwarded to a real provider process against the emulator."""

from __future__ import annotations

import os
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest

from gcore_pulumi import (
    GetSecurityGroupResult,
    SecurityGroup,
    SecurityGroupArgs,
    SecurityGroupLookupError,
    SecurityGroupProvider,
    SecurityGroupRule,
    get_security_group,
    get_security_group_output,
)
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderProcess
from gcore_pulumi.testing.mocks import ForwardingMocks, run_program

KEY = "group-program-key-4e7d"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "group-and-rules"
V2 = "/cloud/v2/security_groups/1/1"


@pytest.fixture
def world() -> Iterator[tuple[GcoreEmulator, ProviderProcess, dict[str, str]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GCORE_")}
    with (
        GcoreEmulator(api_key=KEY) as api,
        ProviderProcess(SecurityGroupProvider(), env=env, cwd=str(EXAMPLE)) as process,
    ):
        config = api.stack_config(1, 1, **{"gcore:retryBackoff": "0.01"})
        process.configure(config, secret_keys=["gcore:apiKey"])
        yield api, process, config


def test_example_makes_the_group_then_exactly_its_rules(
    world: tuple[GcoreEmulator, ProviderProcess, dict[str, str]],
) -> None:
    api, process, _ = world

    def program() -> Any:
        pulumi.runtime.set_all_config({"project:adminCidr": "198.51.100.0/24"})
        namespace = runpy.run_path(str(EXAMPLE / "__main__.py"), run_name="__main__")
        group, rules = namespace["group"], namespace["rules"]
        return pulumi.Output.all(group.id, group.tags, *[rule.id for rule in rules.values()])

    mocks = ForwardingMocks(process)
    group_id, tags, *rule_ids = run_program(mocks, program)
    [group] = api.groups()
    assert group["id"] == group_id and group["name"] == "web-tier"
    assert tags == {"app": "web", "managed-by": "pulumi"}
    assert sorted(r["id"] for r in group["security_group_rules"]) == sorted(rule_ids)
    assert len(rule_ids) == 5
    directions = sorted((r["direction"], r["ethertype"]) for r in group["security_group_rules"])
    assert directions.count(("egress", "IPv4")) == 1 and directions.count(("egress", "IPv6")) == 1
    [post] = [r.body for r in api.requests if r.method == "POST" and r.path == V2]
    assert post["rules"] == []
    creates = [name for rpc, _, name in mocks.calls if rpc == "Create"]
    assert creates[0] == "web"  # the group first: every rule waits for its id


def test_example_preview_sends_nothing(
    world: tuple[GcoreEmulator, ProviderProcess, dict[str, str]],
) -> None:
    api, process, _ = world

    def program() -> Any:
        namespace = runpy.run_path(str(EXAMPLE / "__main__.py"), run_name="__main__")
        return namespace["group"].name

    assert run_program(ForwardingMocks(process, preview=True), program) == "web-tier"
    assert api.requests == []


def test_get_reads_existing_group_and_rule_without_managing_them(
    world: tuple[GcoreEmulator, ProviderProcess, dict[str, str]],
) -> None:
    api, process, _ = world
    group_id = api.create_group(name="console-made", tags={"team": "ops"})
    rule = api.add_rule(group_id, direction="ingress", protocol="tcp", port_range_min=22,
                        port_range_max=22, remote_ip_prefix="10.0.0.0/8")  # fmt: skip

    def program() -> Any:
        group = SecurityGroup.get("existing", group_id)
        ssh = SecurityGroupRule.get("existing-ssh", rule["id"], group_id=group.id)
        return pulumi.Output.all(group.name, group.tags, ssh.protocol, ssh.port_range_min)

    mocks = ForwardingMocks(process)
    assert run_program(mocks, program) == ["console-made", {"team": "ops"}, "tcp", 22]
    assert {rpc for rpc, _, _ in mocks.calls} == {"Read"}
    assert [r.method for r in api.requests] == ["GET", "GET"]


def test_lookups_by_name_and_output_in_the_program_process(
    world: tuple[GcoreEmulator, ProviderProcess, dict[str, str]],
) -> None:
    api, process, config = world
    group_id = api.create_group(name="db", description="database tier")
    api.add_rule(group_id, direction="egress")

    def program() -> Any:
        pulumi.runtime.set_all_config(config)
        plain = get_security_group(name="db")
        assert isinstance(plain, GetSecurityGroupResult)
        looked_up = get_security_group_output(name=pulumi.Output.from_input("db"))
        rule = SecurityGroupRule("db-ssh", group_id=looked_up.id, direction="ingress",
                                 protocol="tcp", port_range_min=22, port_range_max=22)  # fmt: skip
        return pulumi.Output.all(plain.id, plain.description, len(plain.rules), rule.group_id)

    assert run_program(ForwardingMocks(process), program) == [
        group_id, "database tier", 1, group_id
    ]  # fmt: skip
    assert len(api.rules(group_id)) == 2


def test_lookup_by_ambiguous_name_says_how_many_and_which(
    world: tuple[GcoreEmulator, ProviderProcess, dict[str, str]],
) -> None:
    api, process, config = world
    ids = sorted(api.create_group(name="twin") for _ in range(2))

    def program() -> Any:
        pulumi.runtime.set_all_config(config)
        return get_security_group_output(name="twin").id

    with pytest.raises(SecurityGroupLookupError) as caught:
        run_program(ForwardingMocks(process), program)
    message = str(caught.value)
    assert message.startswith("2 security groups named 'twin'") and all(i in message for i in ids)

    def missing() -> Any:
        pulumi.runtime.set_all_config(config)
        return get_security_group(name="nope").id

    with pytest.raises(SecurityGroupLookupError, match="0 security groups named 'nope'"):
        run_program(ForwardingMocks(process), missing)


def test_lookup_needs_exactly_one_of_name_and_id() -> None:
    with pytest.raises(TypeError, match="exactly one"):
        get_security_group()
    with pytest.raises(TypeError, match="exactly one"):
        get_security_group(name="a", id="b")


def test_args_and_keywords_together_are_refused_and_name_is_required() -> None:
    with pytest.raises(TypeError, match="not both"):
        SecurityGroup("x", SecurityGroupArgs(name="a"), description="d")
    with pytest.raises(TypeError, match="missing required input name"):
        SecurityGroup("x")
