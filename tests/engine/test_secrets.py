"""The API key appears nowhere: not in the pickled provider, inputs, outputs, errors,
provider output, or the emulator's request log; and http:// is refused for remote hosts."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderRpcError

from .conftest import Engine, rule_inputs, stack_config

SECRET = "k3y-Sup3rS3cret-0123456789abcdef"


@pytest.fixture
def emulator() -> Any:
    with GcoreEmulator(api_key=SECRET) as api:
        yield api


def test_key_is_found_nowhere(engine: Engine, emulator: GcoreEmulator, group: str) -> None:
    artefacts: list[str] = []
    process = engine()
    artefacts.append(process.serialized_provider)
    artefacts.append(base64.b64decode(process.serialized_provider).decode("latin-1"))

    checked = process.check(rule_inputs(group, protocol="tcp", port_range_min=22,
                                        port_range_max=22))  # fmt: skip
    artefacts.append(repr(checked))
    rule_id, outputs = process.create(checked.inputs)
    artefacts.append(repr(outputs))
    artefacts.append(repr(process.diff(rule_id, outputs, checked.inputs)))
    artefacts.append(repr(process.read(rule_id, outputs, checked.inputs)))

    # error paths: duplicate (409), bad group (404), faults with retries, unreachable host
    for inputs in (
        checked.inputs,
        {**checked.inputs, "group_id": "00000000-0000-4000-8000-000000000000"},
    ):
        with pytest.raises(ProviderRpcError) as caught:
            process.create(inputs)
        artefacts.append(caught.value.details)
    emulator.faults.add("503", method="GET", times=2)
    emulator.faults.add("commit_then_502", method="POST", times=1)
    second = process.check(rule_inputs(group, protocol="udp", port_range_min=53,
                                       port_range_max=53)).inputs  # fmt: skip
    second_id, second_outputs = process.create(second)
    process.delete(second_id, second_outputs)
    process.delete(rule_id, outputs)

    unreachable = engine(**{"gcore:baseUrl": "http://127.0.0.1:9", "gcore:maxRetries": "1"})
    with pytest.raises(ProviderRpcError) as caught:
        unreachable.create(checked.inputs)
    artefacts.append(caught.value.details)
    insecure = engine(**{"gcore:baseUrl": "http://api.example.com"})
    artefacts.append(repr(insecure.check(rule_inputs(group))))
    with pytest.raises(ProviderRpcError) as caught:
        insecure.create(checked.inputs)
    artefacts.append(caught.value.details)

    artefacts.extend(p.output() for p in (process, unreachable, insecure))
    artefacts.append(emulator.dump_log())
    artefacts.append(repr(emulator.requests))

    assert "retrying" in process.output()  # the retries were reported ...
    joined = "\n".join(artefacts)
    assert SECRET not in joined  # ... and nothing anywhere holds the key
    assert SECRET[:12] not in joined


def test_plain_http_to_a_remote_host_is_refused_before_any_request(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    process = engine(config=stack_config(emulator, **{"gcore:baseUrl": "http://gcore.example"}))
    checked = process.check(rule_inputs(group))
    assert checked.failures == []  # preview does not send the key anywhere
    with pytest.raises(ProviderRpcError) as caught:
        process.create(checked.inputs)
    last_line = caught.value.details.strip().splitlines()[-1]
    assert "gcore:baseUrl" in last_line and "clear text" in last_line
    assert "gcore:allowInsecureHttp" in last_line


def test_bad_default_project_shows_in_preview_naming_project_id(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    """The resource's failure (the input is not set: "property project_id value null" would
    say nothing), naming the input, the setting and its value's problem."""
    process = engine(config=stack_config(emulator, **{"gcore:projectId": "web"}))
    [(prop, reason)] = process.check(rule_inputs(group)).failures
    assert prop == ""
    assert reason.startswith("project_id is not given, and its default cannot be used: ")
    assert "gcore:projectId is not usable: its value is not a number" in reason
    assert "web" not in reason  # config values may be secrets: never quoted
    assert process.check(rule_inputs(group, project_id=1)).failures == []
