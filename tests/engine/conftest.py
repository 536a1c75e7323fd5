"""Engine-protocol fixtures: the emulator, and provider processes started as the CLI does."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gcore_pulumi import SecurityGroupProvider, SecurityGroupRuleProvider
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderProcess

API_KEY = "engine-test-key-8f3a1c"
PROJECT, REGION = 1, 1


@pytest.fixture
def emulator() -> Iterator[GcoreEmulator]:
    with GcoreEmulator(api_key=API_KEY) as api:
        yield api


@pytest.fixture
def group(emulator: GcoreEmulator) -> str:
    return emulator.create_group(project_id=PROJECT, region_id=REGION, name="web")


def clean_env(**extra: str) -> dict[str, str]:
    """The CLI's environment minus any GCORE_* settings of the machine running the tests."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GCORE_")}
    env.update(extra)
    return env


def stack_config(emulator: GcoreEmulator, **extra: str) -> dict[str, str]:
    return emulator.stack_config(PROJECT, REGION, **{"gcore:retryBackoff": "0.01", **extra})


Engine = Callable[..., ProviderProcess]


RULE_APIS = pytest.mark.parametrize("rule_api", ["v1", "v2"], indirect=True)
"""Run every test of a module (``pytestmark = RULE_APIS``) with rules made and deleted
through each of Gcore's APIs (``gcore:ruleApi``)."""


@pytest.fixture
def rule_api(request: pytest.FixtureRequest) -> str:
    """The ``gcore:ruleApi`` the engine fixture configures: v1 unless parametrized."""
    return str(getattr(request, "param", "v1"))


@pytest.fixture
def engine(emulator: GcoreEmulator, rule_api: str) -> Iterator[Engine]:
    """Start a fresh provider process (one per CLI command), configured like `pulumi up`."""
    started: list[ProviderProcess] = []

    def start(config: dict[str, str] | None = None, env: dict[str, str] | None = None,
              **overrides: str) -> ProviderProcess:  # fmt: skip
        process = ProviderProcess(SecurityGroupRuleProvider(), env=env or clean_env())
        process.start()
        started.append(process)
        if config is None:
            config = stack_config(emulator, **{"gcore:ruleApi": rule_api, **overrides})
        process.configure(config, secret_keys=[k for k in ("gcore:apiKey",) if k in config])
        return process

    yield start
    for process in started:
        process.stop()


def rule_inputs(group: str, **fields: Any) -> dict[str, Any]:
    inputs: dict[str, Any] = {"group_id": group, "direction": "ingress"}
    inputs.update(fields)
    return inputs


Groups = Callable[..., ProviderProcess]


@pytest.fixture
def groups(emulator: GcoreEmulator) -> Iterator[Groups]:
    """Start a provider process for SecurityGroup resources, configured like `pulumi up`."""
    started: list[ProviderProcess] = []

    def start(**overrides: str) -> ProviderProcess:
        process = ProviderProcess(SecurityGroupProvider(), env=clean_env())
        process.start()
        started.append(process)
        process.configure(stack_config(emulator, **overrides), secret_keys=["gcore:apiKey"])
        return process

    yield start
    for process in started:
        process.stop()
