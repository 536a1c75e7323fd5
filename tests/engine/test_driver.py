"""Tests of the engine-side driver (gcore_pulumi.testing.engine) and ForwardingMocks, against
the throwaway EchoProvider in echo_provider.py, in real `python -m pulumi.dynamic` processes."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.output import UNKNOWN as PULUMI_UNKNOWN

from gcore_pulumi.testing.engine import (
    UNKNOWN,
    CheckFailedError,
    CheckOutcome,
    DiffOutcome,
    EngineError,
    ProviderProcess,
    ProviderRpcError,
    ProviderStartError,
    ReadOutcome,
    child_env,
    import_root,
    is_unknown,
)
from gcore_pulumi.testing.mocks import ForwardingMocks, run_program

from .echo_provider import Echo, EchoProvider

REPO_ROOT = Path(__file__).resolve().parents[2]
ECHO_TYPE = "pulumi-python:dynamic/test:Echo"
CONFIG = {"gcore:apiKey": "sekret", "gcore:region": "76"}
SDK_SENDS_TRACEBACKS = tuple(int(n) for n in version("pulumi").split(".")[:2]) >= (3, 260)
"""From pulumi 3.260 the SDK's server aborts a failed call with the traceback as details;
before, grpc answers "Exception calling application: <error>" (tests/floors runs 3.216)."""


def echo_env() -> dict[str, str]:
    """The child must import echo_provider by the name this process gave it (pytest's import
    mode decides: `tests.engine.echo_provider` or `engine.echo_provider`)."""
    return child_env(import_root(EchoProvider), str(REPO_ROOT))


@pytest.fixture(scope="module")
def shared() -> Iterator[ProviderProcess]:
    """One configured process for the tests that don't depend on a fresh one."""
    with ProviderProcess(EchoProvider(), env=echo_env()) as process:
        process.configure(CONFIG, secret_keys=["gcore:apiKey"])
        yield process


def test_start_and_stop() -> None:
    process = ProviderProcess(EchoProvider(), env=echo_env())
    assert process.serialized_provider  # base64 of the dill pickle, by reference: small
    assert len(process.serialized_provider) < 1000
    with process:
        assert process.port is not None and process.port > 0
        assert process.returncode is None
        assert process.check({"x": 1}).inputs == {"x": 1.0}
    assert process.returncode is not None  # terminated
    process.stop()  # idempotent
    assert "Traceback" not in process.output()
    with pytest.raises(RuntimeError, match="not running"):
        process.check({"x": 1})
    with pytest.raises(RuntimeError, match="already started"):
        process.start()


def test_start_failure_reports_exit() -> None:
    process = ProviderProcess(EchoProvider(), python="/bin/false", env=echo_env())
    with pytest.raises(ProviderStartError, match="exited with status 1"):
        process.start()
    process.stop()


def test_rejects_a_non_provider() -> None:
    with pytest.raises(TypeError):
        ProviderProcess(object())


def test_configure_then_crud_round_trip() -> None:
    with ProviderProcess(EchoProvider(), env=echo_env()) as process:
        process.configure(CONFIG, secret_keys=["gcore:apiKey"])

        checked = process.check({"x": "a", "want_config": "gcore:apiKey"})
        assert checked == CheckOutcome(
            inputs={"x": "a", "want_config": "gcore:apiKey"}, failures=[]
        )

        resource_id, outputs = process.create(checked.inputs)
        assert resource_id == "id-1"
        # The secret config value arrived unwrapped; __provider is stripped from outputs.
        assert outputs == {
            "x": "a",
            "want_config": "gcore:apiKey",
            "made": True,
            "config_value": "sekret",
        }

        assert process.diff(resource_id, outputs, checked.inputs) == DiffOutcome(
            changes="none", replaces=[], delete_before_replace=False
        )
        assert process.diff(resource_id, outputs, {**checked.inputs, "x": "b"}) == DiffOutcome(
            changes="some", replaces=["x"], delete_before_replace=True
        )

        assert process.read(resource_id, outputs, checked.inputs) == ReadOutcome(
            id="id-1", outputs=outputs, inputs=outputs
        )
        assert process.read(resource_id, {**outputs, "gone": True}, checked.inputs) == ReadOutcome(
            id="", outputs={}, inputs=None
        )

        new_outputs = process.update(
            resource_id, outputs, {**checked.inputs, "x": "b"}, old_inputs=checked.inputs
        )
        assert new_outputs == {"x": "b", "want_config": "gcore:apiKey"}

        process.delete(resource_id, new_outputs, old_inputs=checked.inputs)


def test_unconfigured_process_is_configured_empty_first() -> None:
    with ProviderProcess(EchoProvider(), env=echo_env()) as process:
        _, outputs = process.create({"want_config": "gcore:apiKey"})
        assert "config_value" not in outputs  # None is dropped: the config was empty


def test_unknowns_reach_check_as_pulumi_unknown(shared: ProviderProcess) -> None:
    outcome = shared.check(
        {"known": 1, "u": UNKNOWN, "v": PULUMI_UNKNOWN, "nested": {"w": UNKNOWN}}
    )
    # EchoProvider reports every top-level value it received as pulumi.output.Unknown.
    assert sorted(outcome.failures) == [("u", "unknown"), ("v", "unknown")]
    assert outcome.inputs["u"] == UNKNOWN and outcome.inputs["v"] == UNKNOWN
    assert outcome.inputs["nested"] == {"w": UNKNOWN}
    assert is_unknown(outcome.inputs["u"]) and is_unknown(PULUMI_UNKNOWN) and not is_unknown("u")


def test_numbers_travel_as_floats(shared: ProviderProcess) -> None:
    _, outputs = shared.create({"x": 3, "list": [1, 2.5], "map": {"n": 7}, "flag": True})
    assert outputs["x"] == 3.0 and isinstance(outputs["x"], float)
    assert outputs["list"] == [1.0, 2.5] and all(isinstance(n, float) for n in outputs["list"])
    assert isinstance(outputs["map"]["n"], float)
    assert outputs["flag"] is True and outputs["made"] is True


def test_none_props_are_not_sent(shared: ProviderProcess) -> None:
    assert shared.check({"x": 1, "out_only": None}).inputs == {"x": 1.0}


def test_check_failures_come_back_as_data(shared: ProviderProcess) -> None:
    outcome = shared.check({"bad": 1})
    assert outcome.failures == [("bad", "bad is not allowed")]
    error = CheckFailedError(shared.default_urn, outcome.failures, outcome.inputs)
    assert "property bad value 1.0 has a problem: bad is not allowed" in str(error)


def test_provider_exception_is_a_grpc_error_with_the_traceback(shared: ProviderProcess) -> None:
    with pytest.raises(ProviderRpcError) as caught:
        shared.create({"explode": "now"})
    assert caught.value.code == "UNKNOWN"
    assert caught.value.method == "Create"
    if SDK_SENDS_TRACEBACKS:
        assert caught.value.details.startswith("Traceback (most recent call last):")
        assert "echo_provider.py" in caught.value.details
        assert "RuntimeError: kaboom: now" in caught.value.details
    else:  # grpc's own wording: the exception's text only
        assert caught.value.details == "Exception calling application: kaboom: now"


def test_engine_rejects_an_empty_id_from_create(shared: ProviderProcess) -> None:
    with pytest.raises(EngineError, match=r"returned empty resource\.ID from create"):
        shared.create({"empty_id": True})


def test_read_with_only_an_id_fails_in_the_sdk(shared: ProviderProcess) -> None:
    # What `import_` / `pulumi import` sends: the SDK's server fails before provider code runs.
    expected = "KeyError: '__provider'" if SDK_SENDS_TRACEBACKS else "application: '__provider'$"
    with pytest.raises(ProviderRpcError, match=expected):
        shared.read("id-1", None, None, include_provider=False)


def test_concurrent_calls_from_eight_threads(shared: ProviderProcess) -> None:
    errors: list[BaseException] = []
    results: dict[int, list[Any]] = {}

    def work(n: int) -> None:
        try:
            seen = []
            for i in range(5):
                value = f"t{n}-{i}"
                checked = shared.check({"x": value, "n": n})
                resource_id, outputs = shared.create(checked.inputs)
                diff = shared.diff(resource_id, outputs, {**checked.inputs, "x": value + "!"})
                read = shared.read(resource_id, outputs, checked.inputs)
                seen.append((outputs["x"], outputs["n"], diff.changes, read.outputs["x"]))
            results[n] = seen
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert results == {
        n: [(f"t{n}-{i}", float(n), "some", f"t{n}-{i}") for i in range(5)] for n in range(8)
    }


def test_output_captures_provider_prints(shared: ProviderProcess) -> None:
    shared.create({"x": "hello-out"})
    assert "echo-create stdout x=hello-out\n" in shared.output("stdout")
    assert "echo-create stderr x=hello-out\n" in shared.output("stderr")
    combined = shared.output()
    assert "echo-create stdout x=hello-out\n" in combined
    assert "echo-create stderr x=hello-out\n" in combined
    assert str(shared.port) not in combined.splitlines()  # the port line is not output


# ----------------------------------------------------------------------- program tests (mocks)


def test_program_gets_real_outputs_through_forwarding_mocks(shared: ProviderProcess) -> None:
    mocks = ForwardingMocks(shared)

    def program() -> Any:
        resource = Echo("r1", {"x": 5})
        other = pulumi.CustomResource("test:index:Other", "o1", {"a": "b"})
        return pulumi.Output.all(resource.id, resource.x, resource.made, other.id)

    assert run_program(mocks, program) == ["id-1", 5.0, True, "o1_id"]
    assert mocks.calls == [("Check", ECHO_TYPE, "r1"), ("Create", ECHO_TYPE, "r1")]


def test_program_preview_checks_only(shared: ProviderProcess) -> None:
    mocks = ForwardingMocks(shared, preview=True)
    seen: dict[str, Any] = {}

    def program() -> Any:
        resource = Echo("p1", {"x": 6})
        resource.x.apply(lambda x: seen.update(x=x))
        resource.made.apply(lambda made: seen.update(made=made))
        return resource.made

    assert run_program(mocks, program) is None  # unknown
    assert mocks.calls == [("Check", ECHO_TYPE, "p1")]
    # x comes back from the checked inputs; `made` is output-only: unknown in preview, so its
    # apply never runs.
    assert seen == {"x": 6.0}


def test_program_check_failure_fails_the_resource(shared: ProviderProcess) -> None:
    mocks = ForwardingMocks(shared)

    def program() -> Any:
        return Echo("b1", {"bad": 1}).made

    with pytest.raises(CheckFailedError, match=r"property bad value 1\.0 has a problem"):
        run_program(mocks, program)
    assert mocks.calls == [("Check", ECHO_TYPE, "b1")]


def test_program_state_does_not_leak() -> None:
    # run_program keeps set_mocks' settings in its own thread and context.
    assert pulumi.runtime.settings.get_root_resource() is None
    assert not pulumi.runtime.is_dry_run()


def test_module_is_importable_in_the_child() -> None:
    assert sys.modules[EchoProvider.__module__].__file__ == str(
        Path(__file__).with_name("echo_provider.py")
    )
