"""Lookups read the stack config too: a ``gcore:*`` key that is not a setting is refused
before anything is sent, naming the setting it probably meant."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest

from gcore_pulumi import get_security_group, get_security_group_output
from gcore_pulumi.errors import ConfigurationError
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.mocks import run_program

KEY = "lookup-typo-key-5a1c"


class NoResources(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        raise AssertionError("no resource is declared")

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        raise AssertionError("no call is made")


@pytest.fixture
def apis() -> Iterator[tuple[GcoreEmulator, GcoreEmulator]]:
    """The emulator the config meant, and the one the environment names."""
    with GcoreEmulator(api_key=KEY) as meant, GcoreEmulator(api_key=KEY) as elsewhere:
        yield meant, elsewhere


@pytest.mark.parametrize("key", ["gcore:baseURL", "Gcore:baseUrl", "GCORE:baseUrl"])
@pytest.mark.parametrize("output", [False, True], ids=["plain", "output"])
def test_a_misspelt_base_url_is_refused_by_the_lookup(
    apis: tuple[GcoreEmulator, GcoreEmulator],
    monkeypatch: pytest.MonkeyPatch,
    output: bool,
    key: str,
) -> None:
    meant, elsewhere = apis
    group_id = elsewhere.create_group(name="web")
    for name in [k for k in os.environ if k.startswith("GCORE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GCORE_BASE_URL", elsewhere.base_url)
    monkeypatch.setenv("GCORE_API_KEY", KEY)
    config = {key: meant.base_url, "gcore:projectId": "1", "gcore:regionId": "1"}

    def program() -> Any:
        pulumi.runtime.set_all_config(config)
        if output:
            return get_security_group_output(id=group_id).name
        return get_security_group(id=group_id).name

    with pytest.raises(ConfigurationError) as caught:
        run_program(NoResources(), program)
    assert f"{key} is not a gcore-pulumi setting" in str(caught.value)
    assert "did you mean gcore:baseUrl?" in str(caught.value)
    assert caught.value.key == key
    assert meant.requests == [] and elsewhere.requests == []
