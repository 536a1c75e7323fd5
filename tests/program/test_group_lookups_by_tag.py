"""get_security_groups / get_security_groups_output in a program: every group matching the
name and tag filters (AND), across list pages, each as get_security_group returns it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pulumi
import pytest

from gcore_pulumi import (
    SecurityGroupProvider,
    get_security_group,
    get_security_groups,
    get_security_groups_output,
)
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderProcess
from gcore_pulumi.testing.mocks import ForwardingMocks, run_program

KEY = "group-lookup-key-77c1"


@pytest.fixture
def world() -> Iterator[tuple[GcoreEmulator, ProviderProcess, dict[str, str]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GCORE_")}
    with (
        GcoreEmulator(api_key=KEY) as api,
        ProviderProcess(SecurityGroupProvider(), env=env) as process,
    ):
        config = api.stack_config(1, 1, **{"gcore:retryBackoff": "0.01"})
        process.configure(config, secret_keys=["gcore:apiKey"])
        yield api, process, config


def test_every_match_across_pages_with_and_semantics(
    world: tuple[GcoreEmulator, ProviderProcess, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api, process, config = world
    monkeypatch.setattr("gcore_pulumi.api.groups.PAGE_SIZE", 2)  # several pages
    prod = {api.create_group(name=f"web{i}", tags={"env": "prod", "tier": "web"}) for i in range(5)}
    api.create_group(name="db", tags={"env": "prod"})
    api.create_group(name="web9", tags={"env": "dev", "tier": "web"})
    api.add_rule(sorted(prod)[0], direction="egress")

    def program() -> Any:
        pulumi.runtime.set_all_config(config)
        both = get_security_groups(tag_keys=["env", "tier"], tag_key_value={"env": "prod"})
        out = get_security_groups_output(tag_key_value=pulumi.Output.from_input({"env": "prod"}))
        named = get_security_groups(name="db")
        none = get_security_groups(tag_keys=["absent"])
        one = get_security_group(id=sorted(prod)[0])
        first = next(g for g in both if g.id == one.id)
        assert first == one  # results exactly like get_security_group's, rules included
        return pulumi.Output.all(
            [g.id for g in both], out.apply(len), [g.name for g in named], len(none)
        )

    ids, with_env, names, nothing = run_program(ForwardingMocks(process), program)
    assert set(ids) == prod and len(ids) == 5
    assert with_env == 6 and names == ["db"] and nothing == 0
    sent = [parse_qs(urlsplit(r.path).query) for r in api.requests if r.method == "GET"
            and "tag_key" in r.path]  # fmt: skip
    assert sent and sent[0]["tag_key"] == ["env", "tier"]
    assert sent[0]["tag_key_value"] == ['{"env":"prod"}']


def test_bad_filters_are_named_before_anything_is_sent() -> None:
    with pytest.raises(TypeError, match="tag_keys must be a list"):
        get_security_groups(tag_keys="env")
    with pytest.raises(TypeError, match="tag_key_value must be a map"):
        get_security_groups(tag_key_value={"env": 1})  # type: ignore[dict-item]
