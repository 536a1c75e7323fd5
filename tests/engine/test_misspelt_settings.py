"""A misspelt setting is never silently ignored: a ``gcore:*`` stack config key that is not
a setting (``gcore:baseURL``) is refused before anything is sent, naming the setting it
probably meant. Without that, the provider would fall back to GCORE_BASE_URL (or real Gcore)
with GCORE_API_KEY: a run meant for the emulator reaching another API with a real key.

Driven as the engine drives the provider, with the environment pointing at a second server
(the "real Gcore" of the story) that counts every request it gets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gcore_pulumi import SecurityGroupProvider, SecurityGroupRuleProvider
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderProcess, ProviderRpcError
from tests.standin import StandIn

from .conftest import API_KEY, PROJECT, REGION, clean_env, rule_inputs

MISSPELT = [
    ("gcore:baseURL", "gcore:baseUrl"),
    ("gcore:apikey", "gcore:apiKey"),
    ("gcore:projectID", "gcore:projectId"),
    ("gcore:region_id", "gcore:regionId"),
    # The namespace in another case is still ours: Pulumi passes the key on as written.
    ("Gcore:baseUrl", "gcore:baseUrl"),
    ("GCORE:baseUrl", "gcore:baseUrl"),
    ("GCORE:APIKEY", "gcore:apiKey"),
]


@pytest.fixture
def elsewhere(emulator: GcoreEmulator) -> Iterator[StandIn]:
    """The API the environment names: reachable, and counting what reaches it."""
    with StandIn(emulator.base_url) as standin:
        yield standin


def start(provider: object, env: dict[str, str]) -> ProviderProcess:
    return ProviderProcess(provider, env=env).start()  # type: ignore[arg-type]


@pytest.mark.parametrize(("key", "meant"), MISSPELT)
@pytest.mark.parametrize("provider", [SecurityGroupRuleProvider, SecurityGroupProvider])
def test_a_misspelt_key_fails_every_call_and_sends_nothing(
    emulator: GcoreEmulator,
    elsewhere: StandIn,
    group: str,
    key: str,
    meant: str,
    provider: type,
) -> None:
    env = clean_env(
        GCORE_BASE_URL=elsewhere.base_url,
        GCORE_API_KEY=API_KEY,
        GCORE_CLOUD_PROJECT_ID=str(PROJECT),
        GCORE_CLOUD_REGION_ID=str(REGION),
    )
    config = {
        "gcore:retryBackoff": "0.01",
        key: emulator.base_url if "base" in key.lower() else "1",
    }
    if provider is SecurityGroupRuleProvider:
        inputs = rule_inputs(group, project_id=PROJECT, region_id=REGION)
    else:
        inputs = {"name": "web", "project_id": PROJECT, "region_id": REGION}
    emulator.clear_log()
    process = start(provider(), env)
    try:
        process.configure(config)
        calls = {
            "Check": lambda: process.check(inputs),
            "Create": lambda: process.create(inputs),
            "Read": lambda: process.read(group, inputs, inputs),
            "Delete": lambda: process.delete(group, inputs),
        }
        for name, call in calls.items():
            with pytest.raises(ProviderRpcError) as caught:
                call()
            details = caught.value.details
            assert f"{key} is not a gcore-pulumi setting" in details, name
            assert f"did you mean {meant}?" in details, name
    finally:
        process.stop()
    assert elsewhere.requests() == [], "a request reached the API the environment names"
    assert emulator.requests == [], "a request reached the emulator"


def test_keys_of_other_namespaces_are_not_ours(emulator: GcoreEmulator, group: str) -> None:
    process = start(SecurityGroupRuleProvider(), clean_env())
    try:
        config = emulator.stack_config(PROJECT, REGION, **{"aws:region": "x", "project:key": "1"})
        process.configure(config)
        rule_id, _ = process.create(process.check(rule_inputs(group)).inputs)
    finally:
        process.stop()
    assert [r["id"] for r in emulator.rules(group)] == [rule_id]


@pytest.mark.parametrize("runner", [False, True], ids=["cli", "runner"])
def test_hints_fit_where_they_run(emulator: GcoreEmulator, group: str, runner: bool) -> None:
    """Under the CLI the hints name its commands; under the program runner (which sets
    GCORE_PULUMI_RUNNER=1 for the provider process) its options."""
    env = clean_env(**({"GCORE_PULUMI_RUNNER": "1"} if runner else {}))
    process = start(SecurityGroupRuleProvider(), env)
    try:
        config = {k: v for k, v in emulator.stack_config(PROJECT, REGION).items()}
        del config["gcore:apiKey"]
        process.configure(config)
        with pytest.raises(ProviderRpcError) as missing_key:
            process.create(process.check(rule_inputs(group)).inputs)
    finally:
        process.stop()
    typo = start(SecurityGroupRuleProvider(), env)
    try:
        typo.configure({"gcore:baseURL": emulator.base_url})
        with pytest.raises(ProviderRpcError) as misspelt:
            typo.check(rule_inputs(group))
    finally:
        typo.stop()
    if runner:
        assert "set it with `--secret gcore:apiKey` or" in missing_key.value.details
        assert "`--config gcore:baseUrl=<value>`" in misspelt.value.details
        assert "pulumi config" not in missing_key.value.details + misspelt.value.details
    else:
        assert "set it with `pulumi config set --secret gcore:apiKey <key>` or" in (
            missing_key.value.details
        )
        assert "`pulumi config rm gcore:baseURL`, then `pulumi config set gcore:baseUrl" in (
            misspelt.value.details
        )


EMPTY = ["gcore:baseUrl", "gcore:apiKey", "gcore:projectId", "gcore:regionId", "gcore:ruleApi"]


@pytest.mark.parametrize("key", EMPTY)
def test_a_setting_given_empty_is_refused_not_taken_from_the_environment(
    emulator: GcoreEmulator, elsewhere: StandIn, group: str, key: str
) -> None:
    """``pulumi config set gcore:baseUrl ""`` (or ``--config gcore:baseUrl=$UNSET``) gives the
    key with no value: it must not fall back to GCORE_* (here "elsewhere") or the default
    (real Gcore for the base URL), but be refused naming the key and what to do."""
    env = clean_env(
        GCORE_BASE_URL=elsewhere.base_url,
        GCORE_API_KEY=API_KEY,
        GCORE_CLOUD_PROJECT_ID=str(PROJECT),
        GCORE_CLOUD_REGION_ID=str(REGION),
        GCORE_RULE_API="v1",
    )
    config = {**emulator.stack_config(PROJECT, REGION), "gcore:retryBackoff": "0.01", key: ""}
    emulator.clear_log()
    process = start(SecurityGroupRuleProvider(), env)
    try:
        process.configure(config)
        inputs = rule_inputs(group, project_id=PROJECT, region_id=REGION)
        with pytest.raises(ProviderRpcError) as caught:
            process.create(inputs)
    finally:
        process.stop()
    details = caught.value.details
    assert f"{key} is set but empty" in details
    assert f"`pulumi config set {'--secret ' if key == 'gcore:apiKey' else ''}{key}" in details
    assert f"`pulumi config rm {key}`" in details
    assert elsewhere.requests() == [], "a request reached the API the environment names"
    assert emulator.requests == [], "a request was sent"
