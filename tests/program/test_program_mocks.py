"""A Pulumi program using SecurityGroupRule, run under set_mocks with dynamic resources
forwarded to a real provider process, gets real outputs from the emulator."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest

from gcore_pulumi import (
    Direction,
    Protocol,
    SecurityGroupRule,
    SecurityGroupRuleArgs,
    SecurityGroupRuleProvider,
)
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import CheckFailedError, ProviderProcess
from gcore_pulumi.testing.mocks import ForwardingMocks, run_program

KEY = "program-test-key-1b2c"


@pytest.fixture
def world() -> Iterator[tuple[GcoreEmulator, str, ProviderProcess]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GCORE_")}
    with (
        GcoreEmulator(api_key=KEY) as api,
        ProviderProcess(SecurityGroupRuleProvider(), env=env) as process,
    ):
        process.configure(
            {"gcore:apiKey": KEY, "gcore:baseUrl": api.base_url, "gcore:projectId": "1",
             "gcore:regionId": "1"},
            secret_keys=["gcore:apiKey"],
        )  # fmt: skip
        yield api, api.create_group(), process


def test_program_gets_real_ids_and_outputs(
    world: tuple[GcoreEmulator, str, ProviderProcess],
) -> None:
    api, group, process = world

    def program() -> Any:
        https = SecurityGroupRule(
            "https", group_id=group, direction="ingress", protocol="tcp",
            port_range_min=443, port_range_max=443, remote_ip_prefix="0.0.0.0/0",
        )  # fmt: skip
        ssh = SecurityGroupRule(
            "ssh",
            SecurityGroupRuleArgs(group_id=group, direction=Direction.INGRESS,
                                  protocol=Protocol.TCP, port_range_min=22, port_range_max=22,
                                  remote_ip_prefix="203.0.113.9"),
        )  # fmt: skip
        return pulumi.Output.all(
            https.id, https.revision_number, https.security_group_id, ssh.id,
            ssh.remote_ip_prefix, ssh.protocol, ssh.description,
        )  # fmt: skip

    https_id, revision, group_seen, ssh_id, prefix, protocol, description = run_program(
        ForwardingMocks(process), program
    )
    live = {rule["id"]: rule for rule in api.rules(group)}
    assert set(live) == {https_id, ssh_id}
    assert revision == 0 and group_seen == group
    assert prefix == "203.0.113.9/32" and protocol == "tcp" and description == ""
    assert live[ssh_id]["protocol"] == "tcp"


def test_program_with_a_bad_input_fails_at_check_and_creates_nothing(
    world: tuple[GcoreEmulator, str, ProviderProcess],
) -> None:
    api, group, process = world

    def program() -> Any:
        return SecurityGroupRule(
            "bad", group_id=group, direction="ingress", port_range_min=22, port_range_max=22
        ).id

    with pytest.raises(CheckFailedError, match="port_range_min"):
        run_program(ForwardingMocks(process), program)
    assert api.rules(group) == []


def test_args_and_keywords_together_are_refused() -> None:
    with pytest.raises(TypeError, match="not both"):
        SecurityGroupRule(
            "x",
            SecurityGroupRuleArgs(group_id="g", direction="ingress"),
            protocol="tcp",
        )


def test_missing_required_inputs_fail_at_construction() -> None:
    with pytest.raises(TypeError, match="missing required input group_id and direction"):
        SecurityGroupRule("x")


def test_enums_are_strings_that_print_as_their_value() -> None:
    assert Protocol.TCP == "tcp" and isinstance(Protocol.TCP, str)
    assert f"{Protocol.IPV6_ICMP}" == "ipv6-icmp" and str(Direction.EGRESS) == "egress"
