"""Drive a Pulumi Python dynamic provider exactly as the Pulumi engine does, without the CLI.

`ProviderProcess` starts the SDK's provider server (`<python> -u -m pulumi.dynamic`, which is
what the engine's `pulumi-resource-pulumi-python` plugin execs), reads the port it prints, and
talks to it over gRPC with the SDK's own protobufs and property codecs. Requests carry what the
engine's wire carries:

- every resource call gets `__provider` (the `serialize_provider()` string), as the engine
  sends the state it keeps for dynamic resources;
- Configure gets the whole stack config with namespaced keys ("gcore:apiKey") in `args`, and the
  legacy `variables` map ("pulumi-python:config:gcore:apiKey"), as the engine does for the
  dynamic providers; secret config values travel wrapped in `args`;
- numbers travel as floats (3 -> 3.0): that is the protobuf Struct, not a driver choice;
- unknown values ("computed during preview") travel as the `rpc.UNKNOWN` string; the provider
  sees them as `pulumi.output.Unknown`;
- the SDK's server answers Configure with acceptSecrets=False, so, as the engine does, secret
  wrappers are removed from resource properties before they are sent.

Responses are decoded with `rpc.deserialize_properties(..., keep_unknowns=True)`; an unknown in a
response comes back as the `UNKNOWN` constant of this module. Where the engine rejects a
response (an empty id from Create, unknowns in Create/Update/Read outputs) `EngineError` is
raised. A gRPC error raises `ProviderRpcError` (its `details` hold the Python traceback the SDK
sends, which the CLI shows to users).

This module is for tests, benchmarks and users who want to exercise a provider without the CLI;
the provider package itself never imports it. POSIX only (it polls the child's pipes).
"""

from __future__ import annotations

import asyncio
import codecs
import concurrent.futures
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import IO, Any, Final, Literal, TypeVar

import grpc
from google.protobuf import empty_pb2
from pulumi.dynamic.dynamic import ResourceProvider, serialize_provider
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

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

UNKNOWN: Final[str] = rpc.UNKNOWN
"""A value that is unknown during preview. It is the very string the engine puts on the wire."""

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

_T = TypeVar("_T")

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


class ProviderStartError(RuntimeError):
    """The provider process did not start, or did not print a port in time."""


class EngineError(Exception):
    """The provider answered, but the engine would reject the answer (and fail the step)."""


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


# -------------------------------------------------------------------------------------- results


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


def is_unknown(value: object) -> bool:
    """True for the `UNKNOWN` string and for `pulumi.output.Unknown` instances."""
    return isinstance(value, Unknown) or (isinstance(value, str) and value == UNKNOWN)


def strip_secrets(value: Any) -> Any:
    """Remove secret wrappers ({sig: secret, "value": v}) at any depth, as the engine does
    before calling a provider that does not accept secrets."""
    if rpc.is_rpc_secret(value):
        return strip_secrets(value["value"])
    if isinstance(value, Mapping):
        return {k: strip_secrets(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strip_secrets(v) for v in value]
    return value


def _unknowns_to_sentinel(value: Any) -> Any:
    if isinstance(value, Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        return {k: _unknowns_to_sentinel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unknowns_to_sentinel(v) for v in value]
    return value


def _contains_unknowns(value: Any) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, dict):
        return any(_contains_unknowns(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_unknowns(v) for v in value)
    return False


def child_env(*pythonpath: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of `base` (default: os.environ) with `pythonpath` entries prepended to PYTHONPATH.

    The provider process must be able to import the module of a provider class pickled by
    reference; pass the directories that make it importable.
    """
    env = dict(os.environ if base is None else base)
    entries = [*pythonpath, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    if entries:
        env["PYTHONPATH"] = os.pathsep.join(entries)
    return env


def import_root(obj: object) -> str:
    """The sys.path entry from which `obj` (a module, class or instance) was imported.

    A provider class pickled by reference is imported by its module's dotted name in the
    provider process; that works when this directory is on the child's PYTHONPATH (see
    `child_env`). For `a.b.c` at /x/a/b/c.py it is /x, however the importer (pytest's import
    modes included) named the module.
    """
    module = obj if isinstance(obj, ModuleType) else sys.modules[getattr(obj, "__module__", "")]
    file = getattr(module, "__file__", None)
    if not file:
        raise ValueError(f"module {module.__name__!r} has no file")
    path = Path(file).resolve()
    depth = module.__name__.count(".") + (1 if path.name == "__init__.py" else 0)
    return str(path.parents[depth])


def _run_in_private_loop(factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(factory())
    finally:
        loop.close()


def _run_sync(factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run an SDK coroutine to completion in a private event loop.

    In a thread that is already running an event loop (a Pulumi program, an async test), the
    private loop runs in a helper thread instead, since a thread can run only one loop.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_in_private_loop(factory)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_run_in_private_loop, factory).result()


def _serialize(props: Mapping[str, Any]) -> Any:
    """Properties -> google.protobuf.Struct, with the SDK's own codec (what the engine sends)."""
    plain = strip_secrets(props)
    return _run_sync(lambda: rpc.serialize_properties(plain, {}))


def _deserialize(struct: Any) -> dict[str, Any]:
    props = rpc.deserialize_properties(struct, keep_unknowns=True)
    if not isinstance(props, dict):  # an asset/archive/resource at the top level: not a bag
        raise EngineError(f"expected a property map, got {type(props).__name__}")
    result: dict[str, Any] = _unknowns_to_sentinel(props)
    return result


def _without_provider(props: dict[str, Any]) -> dict[str, Any]:
    props.pop(PROVIDER_KEY, None)
    return props


# ---------------------------------------------------------------------------------- pipe drain


class _PipeDrain:
    """Reads a child's pipe in a background thread (so the child never blocks on a full pipe).

    Reads happen under a lock with the fd in non-blocking mode, so `drain()` from another
    thread collects everything the child has written so far: after an RPC returns, whatever the
    provider printed during it is in the pipe (the child runs unbuffered), and `drain()` moves
    it into the sink.
    """

    def __init__(
        self,
        pipe: IO[bytes],
        sink: Callable[[bytes], None],
        on_eof: Callable[[], None],
        name: str,
    ) -> None:
        self._pipe = pipe
        self._fd = pipe.fileno()
        os.set_blocking(self._fd, False)
        self._sink = sink
        self._on_eof = on_eof
        self._lock = threading.Lock()
        self._eof = False
        self._closed = False
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR)
        while not self._stopping.is_set():
            poller.poll(100)
            if not self.drain():
                break

    def drain(self) -> bool:
        """Move all available bytes to the sink. False once the pipe is at EOF or closed."""
        eof = False
        with self._lock:
            if self._eof or self._closed:
                return False
            while True:
                try:
                    data = os.read(self._fd, 65536)
                except BlockingIOError:
                    break
                except OSError:
                    data = b""
                if not data:
                    self._eof = eof = True
                    break
                self._sink(data)
        if eof:
            self._on_eof()
            return False
        return True

    def close(self, timeout: float) -> None:
        self._stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self.drain()
        with self._lock:
            self._closed = True
            self._pipe.close()


# --------------------------------------------------------------------------------- the process


class ProviderProcess:
    """Spawns `<python> -u -m pulumi.dynamic` like the engine does, reads the port it prints,
    talks gRPC.

    `provider` is a ResourceProvider instance (or an already serialized provider string); its
    `serialize_provider()` string is sent as `__provider` in every resource call, unless the
    properties passed already hold a `__provider` (use that to replay old state, e.g. a destroy
    with OLD outputs).

    `env` is the child's full environment (default: a copy of os.environ); PULUMI_PROJECT is
    added when absent, as the engine does. `cwd` is the child's working directory (the engine
    uses the program's directory). `start_new_session=True` starts it in a session of its own,
    so that a Ctrl-C at the terminal reaches only the caller, which can then still use the
    process (to clean up). Every ProviderProcess is a fresh process, as the CLI starts
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
        self.provider = provider
        self.python = python
        self.env: dict[str, str] = dict(os.environ if env is None else env)
        self.env.setdefault("PULUMI_PROJECT", "project")
        self.cwd = cwd
        self.startup_timeout = startup_timeout
        self.rpc_timeout = rpc_timeout
        self.stop_timeout = stop_timeout
        self.stack = stack
        self.project = self.env["PULUMI_PROJECT"]
        self.start_new_session = start_new_session

        self._lifecycle_lock = threading.RLock()
        self._configure_lock = threading.Lock()
        self._configured = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._channel: Any = None
        self._stub: Any = None
        self._drains: list[_PipeDrain] = []
        self._port: int | None = None
        self._port_line = bytearray()
        self._port_event = threading.Event()
        self._port_error: str | None = None
        self._out_lock = threading.Lock()
        self._streams: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._partial: dict[str, str] = {"stdout": "", "stderr": ""}
        self._combined: list[str] = []
        self._decoders = {
            "stdout": codecs.getincrementaldecoder("utf-8")(errors="replace"),
            "stderr": codecs.getincrementaldecoder("utf-8")(errors="replace"),
        }

    # --------------------------------------------------------------------------- lifecycle

    @property
    def default_urn(self) -> str:
        return self.make_urn(DEFAULT_NAME, DEFAULT_TYPE)

    def make_urn(self, name: str = DEFAULT_NAME, type_token: str = DEFAULT_TYPE) -> str:
        """A URN in this process's stack and project."""
        return make_urn(name, type_token, stack=self.stack, project=self.project)

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        """The child's exit status once it has exited (negative: killed by that signal)."""
        return self._proc.poll() if self._proc is not None else None

    def start(self) -> ProviderProcess:
        with self._lifecycle_lock:
            if self._proc is not None:
                raise RuntimeError("this ProviderProcess was already started; make a new one")
            deadline = time.monotonic() + self.startup_timeout
            self._proc = subprocess.Popen(
                [self.python, "-u", "-m", "pulumi.dynamic"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self.env,
                cwd=self.cwd,
                start_new_session=self.start_new_session,
            )
            assert self._proc.stdout is not None and self._proc.stderr is not None
            self._drains = [
                _PipeDrain(self._proc.stdout, self._on_stdout, self._on_stdout_eof, "pp-stdout"),
                _PipeDrain(
                    self._proc.stderr,
                    lambda data: self._append("stderr", data),
                    lambda: None,
                    "pp-stderr",
                ),
            ]
            for drain in self._drains:
                drain.start()
            try:
                self._connect(deadline)
            except BaseException:
                self.stop()
                raise
            return self

    def _connect(self, deadline: float) -> None:
        if not self._port_event.wait(max(0.0, deadline - time.monotonic())):
            raise ProviderStartError(
                f"the provider process printed no port within {self.startup_timeout}s; "
                f"output so far:\n{self.output()}"
            )
        if self._port is None:
            assert self._proc is not None
            try:
                code = self._proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                code = None
            reason = self._port_error or f"exited with status {code} before printing its port"
            raise ProviderStartError(f"the provider process {reason}; its output:\n{self.output()}")
        self._channel = grpc.insecure_channel(
            f"127.0.0.1:{self._port}", options=_GRPC_CHANNEL_OPTIONS
        )
        self._stub = provider_pb2_grpc.ResourceProviderStub(self._channel)
        # The engine's first call to a freshly started plugin, and a readiness probe.
        try:
            self._stub.GetPluginInfo(
                empty_pb2.Empty(),
                timeout=max(0.1, deadline - time.monotonic()),
                wait_for_ready=True,
            )
        except grpc.RpcError as exc:
            raise ProviderStartError(
                f"the provider process did not answer GetPluginInfo: {exc.code().name} "
                f"{exc.details()}; its output:\n{self.output()}"
            ) from exc

    def stop(self) -> None:
        """Close the channel, terminate the child (kill it after `stop_timeout`), close pipes.

        Safe to call more than once; output() still works afterwards.
        """
        with self._lifecycle_lock:
            if self._channel is not None:
                self._channel.close()
                self._channel = None
                self._stub = None
            proc = self._proc
            if proc is not None and proc.returncode is None:
                if proc.poll() is None:
                    proc.terminate()
                try:
                    proc.wait(self.stop_timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            for drain in self._drains:
                drain.close(self.stop_timeout)
            self._drains = []

    def __enter__(self) -> ProviderProcess:
        if self._proc is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------------------ output

    def _on_stdout(self, data: bytes) -> None:
        if self._port_event.is_set():
            self._append("stdout", data)
            return
        self._port_line += data
        if b"\n" not in self._port_line:
            return
        line, rest = bytes(self._port_line).split(b"\n", 1)
        self._port_line.clear()
        try:
            self._port = int(line.strip())
        except ValueError:
            self._port_error = f"printed {line!r} where the engine expects its port"
            self._append("stdout", line + b"\n")
        if rest:
            self._append("stdout", rest)
        self._port_event.set()

    def _on_stdout_eof(self) -> None:
        if not self._port_event.is_set():
            if self._port_line:
                self._append("stdout", bytes(self._port_line))
            self._port_event.set()

    def _append(self, stream: str, data: bytes) -> None:
        with self._out_lock:
            text = self._decoders[stream].decode(data)
            if not text:
                return
            self._streams[stream].append(text)
            # The combined view takes whole lines, so lines of stdout and stderr don't mix.
            pending = self._partial[stream] + text
            cut = pending.rfind("\n") + 1
            if cut:
                self._combined.append(pending[:cut])
            self._partial[stream] = pending[cut:]

    def output(self, stream: Literal["stdout", "stderr"] | None = None) -> str:
        """Everything the child wrote so far: stdout after the port line, and stderr (the CLI
        shows these to users as diagnostics). Whatever the provider printed during an RPC that
        has returned is included.

        The combined text interleaves whole lines in the order the reader threads saw them
        (the order between the two streams is approximate); unfinished last lines come at the
        end. Pass `stream` for the exact text of one stream.
        """
        for drain in list(self._drains):
            drain.drain()
        with self._out_lock:
            if stream is not None:
                return "".join(self._streams[stream])
            return "".join(self._combined) + "".join(self._partial.values())

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
            request.old_inputs.CopyFrom(_serialize(self._with_provider(old_inputs)))

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
        args_struct = _run_sync(lambda: rpc.serialize_properties(args, {}))
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
            olds=_serialize(self._with_provider(olds) if olds else {}),
            news=_serialize(self._with_provider(news)),
            randomSeed=random_seed if random_seed is not None else os.urandom(32),
        )
        response = self._call("Check", request)
        inputs = _without_provider(_deserialize(response.inputs))
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
            olds=_serialize(self._with_provider(olds)),
            news=_serialize(self._with_provider(news)),
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
            properties=_serialize(self._with_provider(inputs)),
            timeout=timeout,
            preview=False,
        )
        response = self._call("Create", request)
        if not response.id:
            raise EngineError(
                f"plugin for package '{DYNAMIC_PROVIDER_PACKAGE}' returned empty resource.ID "
                f"from create '{urn}'"
            )
        outputs = _without_provider(_deserialize(response.properties))
        self._reject_unknowns("Create", urn, outputs)
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

        request = provider_pb2.ReadRequest(id=id, **target, properties=_serialize(bag(outputs)))
        if inputs is not None:
            request.inputs.CopyFrom(_serialize(bag(inputs)))
        response = self._call("Read", request)
        if not response.id:
            return ReadOutcome(id="", outputs={}, inputs=None)
        new_outputs = _without_provider(_deserialize(response.properties))
        self._reject_unknowns("Read", urn, new_outputs)
        new_inputs: dict[str, Any] | None = None
        if response.HasField("inputs"):
            new_inputs = _without_provider(_deserialize(response.inputs))
            self._reject_unknowns("Read", urn, new_inputs)
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
            olds=_serialize(self._with_provider(olds)),
            news=_serialize(self._with_provider(news)),
            timeout=timeout,
            ignoreChanges=list(ignore_changes),
            preview=False,
        )
        self._add_old_inputs(request, old_inputs)
        response = self._call("Update", request)
        outputs = _without_provider(_deserialize(response.properties))
        self._reject_unknowns("Update", urn, outputs)
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
            properties=_serialize(self._with_provider(outputs)),
            timeout=timeout,
        )
        self._add_old_inputs(request, old_inputs)
        self._call("Delete", request)

    @staticmethod
    def _reject_unknowns(method: str, urn: str, props: Mapping[str, Any]) -> None:
        if _contains_unknowns(dict(props)):
            raise EngineError(
                f"{method}({urn}) returned unknown property values, which the engine rejects "
                f"outside preview: {sorted(k for k, v in props.items() if _contains_unknowns(v))}"
            )
