"""Drive a Pulumi Python dynamic provider exactly as the Pulumi engine does, without the CLI.

`ProviderProcess` starts the SDK's provider server (`<python> -u -m pulumi.dynamic`, which is
what the engine's `pulumi-resource-pulumi-python` plugin execs; the process itself is
:mod:`.plugin`'s), and makes the engine's RPCs with the SDK's own protobufs and property
codecs (:mod:`.properties`). Requests carry what the engine's wire carries:

- every resource call gets `__provider` (the `serialize_provider()` string), as the engine
  sends the state it keeps for dynamic resources;
- Configure gets the whole stack config with namespaced keys ("gcore:apiKey") in `args`, and the
  legacy `variables` map ("pulumi-python:config:gcore:apiKey"), as the engine does for the
  dynamic providers; secret config values travel wrapped in `args`;
- numbers travel as floats (3 -> 3.0); unknown values ("computed during preview") as the
  `UNKNOWN` string, which the provider sees as `pulumi.output.Unknown`;
- the SDK's server answers Configure with acceptSecrets=False, so, as the engine does, secret
  wrappers are removed from resource properties before they are sent.

An unknown in a response comes back as `UNKNOWN`. Where the engine rejects a response (an
empty id from Create, unknowns in Create/Update/Read outputs) `EngineError` is raised. A gRPC
error raises `ProviderRpcError` (its `details` hold the Python traceback the SDK sends, which
the CLI shows to users).

This module is for tests, benchmarks and users who want to exercise a provider without the CLI;
the provider package itself never imports it. POSIX only (it polls the child's pipes).
"""

from __future__ import annotations

import os
import sys
import threading
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import grpc
from pulumi.dynamic.dynamic import ResourceProvider, serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2

from .plugin import PluginProcess, ProviderStartError, child_env, import_root
from .properties import (
    UNKNOWN,
    EngineError,
    deserialize,
    is_unknown,
    reject_unknowns,
    serialize,
    strip_secrets,
)

__all__ = [
    "DEFAULT_NAME",
    "DEFAULT_TYPE",
    "PROVIDER_KEY",
    "UNKNOWN",
    "CheckFailedError",
    "CheckOutcome",
    "DiffOutcome",
    "EngineError",
    "ProviderProcess",
    "ProviderRpcError",
    "ProviderStartError",
    "ReadOutcome",
    "child_env",
    "import_root",
    "is_unknown",
    "make_urn",
    "strip_secrets",
]

PROVIDER_KEY: Final = "__provider"
"""The property holding the serialized (pickled, base64) provider in every dynamic resource."""

DEFAULT_TYPE: Final = "pulumi-python:dynamic/gcore:SecurityGroupRule"
"""Type token of `class X(pulumi.dynamic.Resource, module="gcore", name="SecurityGroupRule")`."""

DEFAULT_NAME: Final = "rule"

DYNAMIC_PROVIDER_PACKAGE: Final = "pulumi-python"
"""The package name the engine gives the Python dynamic provider plugin."""

_DIFF_CHANGES: Final[dict[int, Literal["some", "none", "unknown"]]] = {
    provider_pb2.DiffResponse.DIFF_UNKNOWN: "unknown",
    provider_pb2.DiffResponse.DIFF_NONE: "none",
    provider_pb2.DiffResponse.DIFF_SOME: "some",
}

# serialize_provider swaps pickle.Pickler and its dict-saving methods module-wide while it runs.
_SERIALIZE_LOCK = threading.Lock()


# --------------------------------------------------------------------------------------- errors


class ProviderRpcError(Exception):
    """A gRPC error returned by the provider process.

    `code` is the `grpc.StatusCode` name ("UNKNOWN" for an exception raised in a provider method),
    `details` the status message: for a provider exception, the whole Python traceback.
    """

    def __init__(self, method: str, code: str, details: str) -> None:
        super().__init__(f"{method} failed with gRPC status {code}: {details}")
        self.method = method
        self.code = code
        self.details = details


class CheckFailedError(EngineError):
    """Check returned failures; the engine reports each one and fails the resource."""

    def __init__(
        self,
        urn: str,
        failures: Sequence[tuple[str, str]],
        inputs: Mapping[str, Any] | None = None,
    ) -> None:
        type_token, name = _urn_type_and_name(urn)
        values = inputs or {}
        lines = []
        for prop, reason in failures:
            if prop:
                value = values.get(prop)
                lines.append(
                    f"{type_token} resource '{name}': property {prop} value {value!r} "
                    f"has a problem: {reason}"
                )
            else:
                lines.append(f"{type_token} resource '{name}' has a problem: {reason}")
        super().__init__("\n".join(lines))
        self.urn = urn
        self.failures = list(failures)
        self.inputs = dict(values)


@dataclass(frozen=True)
class CheckOutcome:
    """Check's answer: the checked inputs (without `__provider`) and (property, reason) failures."""

    inputs: dict[str, Any]
    failures: list[tuple[str, str]]


@dataclass(frozen=True)
class DiffOutcome:
    changes: Literal["some", "none", "unknown"]
    replaces: list[str]
    delete_before_replace: bool


@dataclass(frozen=True)
class ReadOutcome:
    """Read's answer. An empty `id` means the resource is gone (outputs {} and inputs None then).

    `inputs` is None when the provider returned no inputs (the engine then keeps the old ones).
    """

    id: str
    outputs: dict[str, Any]
    inputs: dict[str, Any] | None


# -------------------------------------------------------------------------------------- helpers


def make_urn(
    name: str = DEFAULT_NAME,
    type_token: str = DEFAULT_TYPE,
    *,
    stack: str = "stack",
    project: str = "project",
) -> str:
    """A URN as the engine builds it for a resource without a parent."""
    return f"urn:pulumi:{stack}::{project}::{type_token}::{name}"


def _urn_type_and_name(urn: str) -> tuple[str, str]:
    parts = urn.split("::")
    if len(parts) < 4 or not parts[0].startswith("urn:pulumi:"):
        raise ValueError(f"not a Pulumi URN: {urn!r}")
    return parts[2].split("$")[-1], "::".join(parts[3:])


def _answer(struct: Any, method: str = "", urn: str = "") -> dict[str, Any]:
    """Properties of an answer, without `__provider`; with ``method``, unknowns in them fail
    as the engine fails them outside preview."""
    props = deserialize(struct)
    props.pop(PROVIDER_KEY, None)
    if method:
        reject_unknowns(method, urn, props)
    return props


# --------------------------------------------------------------------------------- the process


class ProviderProcess(PluginProcess):
    """Spawns `<python> -u -m pulumi.dynamic` like the engine does, reads the port it prints,
    talks gRPC.

    `provider` is a ResourceProvider instance (or an already serialized provider string); its
    `serialize_provider()` string is sent as `__provider` in every resource call, unless the
    properties passed already hold a `__provider` (use that to replay old state, e.g. a destroy
    with OLD outputs).

    `python`, `env`, `cwd`, `startup_timeout`, `stop_timeout` and `start_new_session` are the
    process's, as :class:`.plugin.PluginProcess` runs it (start, port, output, stop); this
    class adds the RPCs. Every ProviderProcess is a fresh process, as the CLI starts
    one per command; the SDK caches each distinct `__provider`, configured once, for the life of
    the process.

    Thread-safe: many threads may call RPCs at once on one instance (the engine runs steps in
    parallel; the server has 4 worker threads). One gRPC channel is shared.

    Configure comes first, as with the engine: if a resource RPC is made before `configure()`,
    the driver sends Configure with an empty config first.
    """

    def __init__(
        self,
        provider: object,
        *,
        python: str = sys.executable,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        startup_timeout: float = 30.0,
        stack: str = "stack",
        rpc_timeout: float | None = 120.0,
        stop_timeout: float = 5.0,
        start_new_session: bool = False,
    ) -> None:
        if isinstance(provider, str):
            self.serialized_provider: str = provider
        elif isinstance(provider, ResourceProvider):
            with _SERIALIZE_LOCK:
                self.serialized_provider = serialize_provider(provider)
        else:
            raise TypeError(
                f"provider must be a pulumi.dynamic.ResourceProvider or a serialized provider "
                f"string, not {type(provider).__name__}"
            )
        super().__init__(
            python=python,
            env=env,
            cwd=cwd,
            startup_timeout=startup_timeout,
            stop_timeout=stop_timeout,
            start_new_session=start_new_session,
        )
        self.provider = provider
        self.rpc_timeout = rpc_timeout
        self.stack = stack
        self.project = self.env["PULUMI_PROJECT"]
        self._configure_lock = threading.Lock()
        self._configured = False

    @property
    def default_urn(self) -> str:
        return self.make_urn(DEFAULT_NAME, DEFAULT_TYPE)

    def make_urn(self, name: str = DEFAULT_NAME, type_token: str = DEFAULT_TYPE) -> str:
        """A URN in this process's stack and project."""
        return make_urn(name, type_token, stack=self.stack, project=self.project)

    # -------------------------------------------------------------------------------- RPCs

    def _call(self, method: str, request: Any) -> Any:
        stub = self._stub
        if stub is None:
            raise RuntimeError("the provider process is not running; call start() first")
        try:
            return getattr(stub, method)(request, timeout=self.rpc_timeout)
        except grpc.RpcError as exc:
            raise ProviderRpcError(method, exc.code().name, exc.details() or "") from exc

    def _with_provider(self, props: Mapping[str, Any] | None) -> dict[str, Any]:
        result = dict(props or {})
        result.setdefault(PROVIDER_KEY, self.serialized_provider)
        return result

    def _bag(self, props: Mapping[str, Any] | None) -> Any:
        """Properties as the engine sends them: with `__provider`, encoded."""
        return serialize(self._with_provider(props))

    def _ensure_configured(self) -> None:
        if not self._configured:
            with self._configure_lock:
                if not self._configured:
                    self._configure({}, ())

    def _target(self, urn: str | None) -> dict[str, Any]:
        """Configure first (as the engine does), then the resource fields of a request."""
        self._ensure_configured()
        urn = urn or self.default_urn
        type_token, name = _urn_type_and_name(urn)
        return {"urn": urn, "name": name, "type": type_token}

    def _add_old_inputs(self, request: Any, old_inputs: Mapping[str, Any] | None) -> None:
        """The engine sends old inputs too (the SDK ignores them); sent when given."""
        if old_inputs is not None:
            request.old_inputs.CopyFrom(self._bag(old_inputs))

    def configure(self, config: Mapping[str, str], *, secret_keys: Collection[str] = ()) -> None:
        """Send Configure with the stack config, keys namespaced ("gcore:apiKey": "...").

        As the engine does for the dynamic providers: `args` holds every key (the values of
        `secret_keys` wrapped as secrets; keys absent from `config` are ignored), `variables`
        the legacy spelling "pulumi-python:config:<key>". The SDK only reads `args`, and
        unwraps the secrets.
        """
        with self._configure_lock:
            self._configure(config, secret_keys)

    def _configure(self, config: Mapping[str, str], secret_keys: Collection[str]) -> None:
        args = {k: rpc.wrap_rpc_secret(v) if k in secret_keys else v for k, v in config.items()}
        variables = {f"{DYNAMIC_PROVIDER_PACKAGE}:config:{k}": v for k, v in config.items()}
        args_struct = serialize(args, keep_secrets=True)
        provider_type = f"pulumi:providers:{DYNAMIC_PROVIDER_PACKAGE}"
        request = provider_pb2.ConfigureRequest(
            variables=variables,
            args=args_struct,
            acceptSecrets=True,
            acceptResources=True,
            sends_old_inputs=True,
            sends_old_inputs_to_delete=True,
            id=str(uuid.uuid4()),
            urn=self.make_urn("default", provider_type),
            name="default",
            type=provider_type,
        )
        self._call("Configure", request)
        self._configured = True

    def check(
        self,
        news: Mapping[str, Any],
        olds: Mapping[str, Any] | None = None,
        urn: str | None = None,
        *,
        random_seed: bytes | None = None,
    ) -> CheckOutcome:
        """Check(olds = old INPUTS, news). `__provider` is added to news, and to olds if any.

        Values may be `UNKNOWN` (preview); unknowns in the checked inputs come back as UNKNOWN.
        """
        target = self._target(urn)
        urn = target["urn"]
        request = provider_pb2.CheckRequest(
            **target,
            olds=self._bag(olds) if olds else serialize({}),
            news=self._bag(news),
            randomSeed=random_seed if random_seed is not None else os.urandom(32),
        )
        response = self._call("Check", request)
        inputs = _answer(response.inputs)
        failures = [(f.property, f.reason) for f in response.failures]
        return CheckOutcome(inputs=inputs, failures=failures)

    def diff(
        self,
        id: str,
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        *,
        old_inputs: Mapping[str, Any] | None = None,
        ignore_changes: Sequence[str] = (),
        urn: str | None = None,
    ) -> DiffOutcome:
        """Diff(id, olds = old OUTPUTS, news = new checked inputs). `__provider` added to both.

        `old_inputs` (the engine sends them; the SDK ignores them) is sent when given.
        """
        target = self._target(urn)
        urn = target["urn"]
        request = provider_pb2.DiffRequest(
            id=id,
            **target,
            olds=self._bag(olds),
            news=self._bag(news),
            ignoreChanges=list(ignore_changes),
        )
        self._add_old_inputs(request, old_inputs)
        response = self._call("Diff", request)
        return DiffOutcome(
            changes=_DIFF_CHANGES.get(response.changes, "unknown"),
            replaces=list(response.replaces),
            delete_before_replace=bool(response.deleteBeforeReplace),
        )

    def create(
        self,
        inputs: Mapping[str, Any],
        *,
        urn: str | None = None,
        timeout: float = 0.0,
    ) -> tuple[str, dict[str, Any]]:
        """Create(checked inputs) -> (id, outputs without `__provider`)."""
        target = self._target(urn)
        urn = target["urn"]
        request = provider_pb2.CreateRequest(
            **target,
            properties=self._bag(inputs),
            timeout=timeout,
            preview=False,
        )
        response = self._call("Create", request)
        if not response.id:
            raise EngineError(
                f"plugin for package '{DYNAMIC_PROVIDER_PACKAGE}' returned empty resource.ID "
                f"from create '{urn}'"
            )
        outputs = _answer(response.properties, "Create", urn)
        return response.id, outputs

    def read(
        self,
        id: str,
        outputs: Mapping[str, Any] | None,
        inputs: Mapping[str, Any] | None,
        *,
        urn: str | None = None,
        include_provider: bool = True,
    ) -> ReadOutcome:
        """Read(id, old outputs, old inputs), as refresh does. `__provider` added to both.

        `inputs=None` sends no inputs. With `include_provider=False` and no outputs or inputs,
        this is the engine's import-style Read with only an id (which the SDK's server cannot
        serve: KeyError '__provider').
        """
        target = self._target(urn)
        urn = target["urn"]

        def bag(props: Mapping[str, Any] | None) -> dict[str, Any]:
            return self._with_provider(props) if include_provider else dict(props or {})

        request = provider_pb2.ReadRequest(id=id, **target, properties=serialize(bag(outputs)))
        if inputs is not None:
            request.inputs.CopyFrom(serialize(bag(inputs)))
        response = self._call("Read", request)
        if not response.id:
            return ReadOutcome(id="", outputs={}, inputs=None)
        new_outputs = _answer(response.properties, "Read", urn)
        new_inputs: dict[str, Any] | None = None
        if response.HasField("inputs"):
            new_inputs = _answer(response.inputs, "Read", urn)
        return ReadOutcome(id=response.id, outputs=new_outputs, inputs=new_inputs)

    def update(
        self,
        id: str,
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        *,
        old_inputs: Mapping[str, Any] | None = None,
        ignore_changes: Sequence[str] = (),
        urn: str | None = None,
        timeout: float = 0.0,
    ) -> dict[str, Any]:
        """Update(id, olds = old OUTPUTS, news = new checked inputs) -> new outputs."""
        target = self._target(urn)
        urn = target["urn"]
        request = provider_pb2.UpdateRequest(
            id=id,
            **target,
            olds=self._bag(olds),
            news=self._bag(news),
            timeout=timeout,
            ignoreChanges=list(ignore_changes),
            preview=False,
        )
        self._add_old_inputs(request, old_inputs)
        response = self._call("Update", request)
        outputs = _answer(response.properties, "Update", urn)
        return outputs

    def delete(
        self,
        id: str,
        outputs: Mapping[str, Any],
        *,
        old_inputs: Mapping[str, Any] | None = None,
        urn: str | None = None,
        timeout: float = 0.0,
    ) -> None:
        """Delete(id, OLD outputs): their `__provider` is what the SDK unpickles."""
        target = self._target(urn)
        urn = target["urn"]
        request = provider_pb2.DeleteRequest(
            id=id,
            **target,
            properties=self._bag(outputs),
            timeout=timeout,
        )
        self._add_old_inputs(request, old_inputs)
        self._call("Delete", request)
