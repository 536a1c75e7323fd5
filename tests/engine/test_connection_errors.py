"""What `pulumi up` shows when the API cannot be reached, or a create is sent to the wrong
project or region: the provider process's one-line error names the host (and port) and
what failed, or the project and region used, and never the key."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest

from gcore_pulumi import SecurityGroupRuleProvider
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderProcess, ProviderRpcError
from tests.engine.conftest import API_KEY, Engine, clean_env, rule_inputs, stack_config


def create_error(process: ProviderProcess, group: str, **fields: object) -> str:
    checked = process.check(rule_inputs(group, **fields))
    assert checked.failures == []
    with pytest.raises(ProviderRpcError) as caught:
        process.create(checked.inputs)
    last_line = caught.value.details.strip().splitlines()[-1]
    assert API_KEY not in caught.value.details
    return last_line


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound for the whole test but not listening,
    so no other test (or xdist worker) can start listening on it meanwhile."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


def test_refused_connection_names_host_and_port(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    with closed_port() as port:
        config = stack_config(emulator, **{"gcore:baseUrl": f"http://127.0.0.1:{port}"})
        line = create_error(engine(config=config), group)
    assert f"could not connect to 127.0.0.1:{port} (connection refused)" in line
    assert "may have created" not in line  # never sent: nothing to reconcile


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1", "127.0.0.2", "LOCALHOST"])
def test_refused_loopback_is_reported_at_once_with_the_fix(
    engine: Engine, emulator: GcoreEmulator, group: str, host: str
) -> None:
    # The emulator not started, or a wrong port: nothing has ever answered there, so the
    # retries (about 16 s with the default backoff) would only make the user wait. Every
    # spelling of a loopback address counts (plain http to it is allowed, too).
    with closed_port() as port:
        config = stack_config(emulator, **{"gcore:baseUrl": f"http://{host}:{port}"})
        del config["gcore:retryBackoff"]  # the default backoff, as a new user has it
        process = engine(config=config)
        started = time.monotonic()
        line = create_error(process, group)
        took = time.monotonic() - started
    assert f"{host.lower()}:{port} (connection refused)" in line, line
    assert "Start the Gcore emulator" in line and f"--port {port}" in line, line
    assert "gcore:baseUrl" in line, line
    assert took < 5.0, f"reported after {took:.1f}s"


def test_unresolvable_host_is_named_as_a_dns_failure(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    # .invalid never resolves (RFC 6761); the resolver is told to give up fast regardless
    config = stack_config(
        emulator, **{"gcore:baseUrl": "https://api.example.invalid", "gcore:connectTimeout": "1"}
    )
    process = engine(config=config, env=clean_env(RES_OPTIONS="timeout:1 attempts:1"))
    started = time.monotonic()
    line = create_error(process, group)
    assert time.monotonic() - started < 15
    assert "could not resolve host api.example.invalid (DNS)" in line
    assert "refused" not in line
    # Each retry's log line says what failed in words, not as urllib3's class name.
    retried = [entry for entry in process.output().splitlines() if "; retrying" in entry]
    assert retried and all("got DNS lookup failed" in entry for entry in retried), retried
    assert "Error" not in "".join(retried), retried


def test_a_refused_connection_retried_is_logged_in_words() -> None:
    # Once the API has answered, a refusal (an emulator restarting) is retried: each retry
    # line says "connection refused", not urllib3's NewConnectionError.
    with GcoreEmulator(api_key=API_KEY) as api:
        group = api.create_group(name="web")
        process = ProviderProcess(SecurityGroupRuleProvider(), env=clean_env()).start()
        try:
            config = stack_config(api, **{"gcore:maxRetries": "2"})
            process.configure(config, secret_keys=["gcore:apiKey"])
            inputs = process.check(rule_inputs(group)).inputs
            rule_id, outputs = process.create(inputs)
            api.stop()  # its port now refuses connections
            with pytest.raises(ProviderRpcError):
                process.read(rule_id, outputs, inputs)
        finally:
            process.stop()
    retried = [entry for entry in process.output().splitlines() if "; retrying" in entry]
    assert len(retried) == 2 and all("got connection refused;" in e for e in retried), retried


def test_a_404_on_the_rule_post_names_project_and_region(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    missing = "5f3c1e2a-8b7d-4c6e-9a1f-2b3c4d5e6f70"  # a remote group that does not exist
    line = create_error(engine(), group, remote_group_id=missing)
    assert "Gcore API 404 on POST" in line
    assert "Asked in project 1, region 1: check gcore:projectId / gcore:regionId" in line
