"""Pulumi program tests whose dynamic resources run in a real provider process.

`ForwardingMocks` is a `pulumi.runtime.Mocks` for `pulumi.runtime.set_mocks`: resources whose
type token starts with "pulumi-python:dynamic" are forwarded to a `ProviderProcess` (Check,
then Create, as `pulumi up` does for a new resource), so the program sees the provider's real id
and outputs. Other resources echo their inputs.

Every resource it answers for is recorded in `resources` (a `MockedResource`: created, planned,
read or echoed), each created one the moment Create returns, and every failed Check, Create or
Read in `failures`; `stop()` makes later Creates fail instead of being sent, so that a caller
cleaning up after Ctrl-C knows that `created` is complete once the program has finished.

    process = ProviderProcess(MyProvider(), env=child_env(repo_root)).start()
    mocks = ForwardingMocks(process)
    pulumi.runtime.set_mocks(mocks, preview=False)   # same `preview` as the mocks

or, isolated from other tests (see `run_program`):

    value = run_program(ForwardingMocks(process), lambda: MyResource("r", {...}).some_output)

Under mocks, `args.inputs["__provider"]` arrives secret-wrapped (the dynamic Resource makes it
a secret); the engine strips secret wrappers before calling the provider, and so does this
class. The wrapped `__provider` is put back into the outputs, as the engine keeps a property
secret when its input was.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
from pulumi.runtime import MockCallArgs, MockResourceArgs

from .engine import (
    PROVIDER_KEY,
    CheckFailedError,
    EngineError,
    ProviderProcess,
    strip_secrets,
)

__all__ = [
    "DYNAMIC_TYPE_PREFIX",
    "ForwardingMocks",
    "MockedResource",
    "ResourceFailure",
    "StoppedError",
    "run_program",
]

DYNAMIC_TYPE_PREFIX = "pulumi-python:dynamic"

MockedKind = Literal["created", "planned", "read", "echoed"]


@dataclass(frozen=True)
class MockedResource:
    """One resource a ForwardingMocks answered for.

    `kind`: "created" (Check + Create sent), "planned" (preview: Check only, `id` None),
    "read" (`Resource.get` or `import_`: an existing resource, never created or deleted),
    "echoed" (not a dynamic resource: its inputs echoed, nothing sent anywhere).
    `inputs` are the checked inputs as sent to Create (with the resource's own `__provider`,
    secrets stripped), `outputs` what the provider returned (without `__provider`).
    """

    kind: MockedKind
    type_token: str
    name: str
    urn: str
    id: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]


@dataclass(frozen=True)
class ResourceFailure:
    """A forwarded RPC that failed for a resource: `rpc` is "Check", "Create" or "Read"."""

    rpc: str
    type_token: str
    name: str
    error: Exception


class StoppedError(EngineError):
    """A Create that was not sent because `ForwardingMocks.stop()` was called."""


class ForwardingMocks(pulumi.runtime.Mocks):
    """Mocks that forward dynamic resources to a real ProviderProcess; others echo inputs.

    - up (`preview=False`): Check, then Create with the checked inputs; returns the real id and
      outputs.
    - preview (`preview=True`): Check only; the outputs are the checked inputs and the id is
      unknown, which is what the engine hands back for a provider without preview support
      (output-only properties then stay unknown).
    - Check failures raise `CheckFailedError` (the engine fails the resource): the resource's
      outputs then raise it when awaited.
    - A read of an existing resource (`Resource.get` / ReadResource) forwards a Read with the
      given state; an `import_` (RegisterResource with an import id) forwards the engine's
      Read with only an id, which the SDK's provider server cannot serve (KeyError '__provider').

    Every forwarded RPC is recorded in `calls` as (rpc_name, type_token, resource_name), every
    resource answered for in `resources`, every failed RPC in `failures` (and then raised).
    """

    def __init__(self, process: ProviderProcess, *, preview: bool = False) -> None:
        self.process = process
        self.preview = preview
        self.calls: list[tuple[str, str, str]] = []
        self.resources: list[MockedResource] = []
        self.failures: list[ResourceFailure] = []
        self._stopped = threading.Event()
        self._lock = threading.Lock()

    def _record(self, rpc_name: str, args: MockResourceArgs) -> None:
        with self._lock:
            self.calls.append((rpc_name, args.typ, args.name))

    def _answered(self, resource: MockedResource) -> None:
        with self._lock:
            self.resources.append(resource)

    def _failed(self, rpc_name: str, args: MockResourceArgs, error: Exception) -> None:
        with self._lock:
            self.failures.append(ResourceFailure(rpc_name, args.typ, args.name, error))

    @property
    def created(self) -> list[MockedResource]:
        """The resources created so far, in the order their Create returned."""
        with self._lock:
            return [r for r in self.resources if r.kind == "created"]

    def stop(self) -> None:
        """From now on, refuse to send Create (raise `StoppedError`); RPCs in flight finish."""
        self._stopped.set()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return dict(args.args), []

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if not args.typ.startswith(DYNAMIC_TYPE_PREFIX):
            resource_id = args.resource_id or f"{args.name}_id"
            echoed = dict(args.inputs)
            urn = self.process.make_urn(args.name, args.typ)
            self._answered(
                MockedResource("echoed", args.typ, args.name, urn, resource_id, echoed, echoed)
            )
            return resource_id, echoed

        wrapped_provider = args.inputs.get(PROVIDER_KEY)
        inputs: dict[str, Any] = strip_secrets(args.inputs)
        urn = self.process.make_urn(args.name, args.typ)

        if args.resource_id:
            return self._read(args, urn, inputs, wrapped_provider)

        self._record("Check", args)
        try:
            checked = self.process.check(inputs, urn=urn)
            if checked.failures:
                raise CheckFailedError(urn, checked.failures, checked.inputs)
        except Exception as exc:
            self._failed("Check", args, exc)
            raise
        news = dict(checked.inputs)
        if PROVIDER_KEY in inputs:  # the program's own provider, not the process's default
            news[PROVIDER_KEY] = inputs[PROVIDER_KEY]
        if self.preview:
            self._answered(MockedResource("planned", args.typ, args.name, urn, None, news, {}))
            return None, {**checked.inputs, PROVIDER_KEY: wrapped_provider}

        try:
            if self.stopped:
                raise StoppedError(f"{urn} was not created: the run was stopped")
            self._record("Create", args)
            resource_id, outputs = self.process.create(news, urn=urn)
        except Exception as exc:
            self._failed("Create", args, exc)
            raise
        self._answered(
            MockedResource("created", args.typ, args.name, urn, resource_id, news, outputs)
        )
        return resource_id, {**outputs, PROVIDER_KEY: wrapped_provider}

    def _read(
        self,
        args: MockResourceArgs,
        urn: str,
        inputs: dict[str, Any],
        wrapped_provider: Any,
    ) -> tuple[str | None, dict[str, Any]]:
        assert args.resource_id
        self._record("Read", args)
        try:
            if args.custom:  # import_: the engine reads with the id only
                read = self.process.read(
                    args.resource_id, None, None, urn=urn, include_provider=False
                )
            else:  # Resource.get: the engine reads with the given state
                read = self.process.read(args.resource_id, inputs, inputs, urn=urn)
            if not read.id:
                raise EngineError(f"resource '{args.resource_id}' does not exist ({urn})")
        except Exception as exc:
            self._failed("Read", args, exc)
            raise
        self._answered(
            MockedResource("read", args.typ, args.name, urn, read.id, inputs, read.outputs)
        )
        return read.id, {**read.outputs, PROVIDER_KEY: wrapped_provider}


def run_program(
    mocks: pulumi.runtime.Mocks,
    program: Callable[[], Any],
    *,
    preview: bool | None = None,
    project: str = "project",
    stack: str = "stack",
    timeout: float = 60.0,
) -> Any:
    """Run `program` under `mocks` in a thread of its own and return what it returned, resolved
    (None when unknown, as in preview). Exceptions from the program or from resolving its
    outputs (e.g. a CheckFailedError) are re-raised here.

    Isolation: `set_mocks` keeps its settings in context variables and the SDK installs event
    loops in the threads it uses (the program's, and every executor thread in which the mock
    monitor runs); a fresh thread with a private loop and executor keeps all of that away from
    other tests, and every loop is closed afterwards (no ResourceWarning).
    `preview` defaults to `mocks.preview` (ForwardingMocks) or False.
    """
    if preview is None:
        preview = bool(getattr(mocks, "preview", False))
    run = _ProgramThread(mocks, program, preview=preview, project=project, stack=stack)
    thread = threading.Thread(target=run.target, name="pulumi-program", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"the Pulumi program did not finish within {timeout}s")
    if run.failure:
        raise run.failure[0]
    return run.result[0] if run.result else None


class _ProgramThread:
    """One `run_program`: the program thread's loop set up, the program run, the loops shut."""

    def __init__(
        self,
        mocks: pulumi.runtime.Mocks,
        program: Callable[[], Any],
        *,
        preview: bool,
        project: str,
        stack: str,
    ) -> None:
        self.mocks = mocks
        self.program = program
        self.preview = preview
        self.project = project
        self.stack = stack
        self.result: list[Any] = []
        self.failure: list[BaseException] = []
        self.worker_loops: list[asyncio.AbstractEventLoop] = []
        self.worker_loops_lock = threading.Lock()

    def init_worker(self) -> None:
        # The mock monitor calls asyncio.get_event_loop() in executor threads and would leave a
        # new, never closed loop in each; give each worker a loop that is closed below.
        worker_loop = asyncio.new_event_loop()
        worker_loop.set_exception_handler(self.quiet_about_reraised)
        asyncio.set_event_loop(worker_loop)
        with self.worker_loops_lock:
            self.worker_loops.append(worker_loop)

    def wrapped(self) -> Any:
        return pulumi.Output.from_input(self.program()).apply(self.result.append)

    def quiet_about_reraised(
        self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]
    ) -> None:
        # The SDK leaves the futures of a failed resource unretrieved; their exception is the
        # one re-raised to the caller below, so asyncio's "never retrieved" report is noise.
        if self.failure and context.get("exception") is self.failure[0]:
            return
        loop.default_exception_handler(context)

    def target(self) -> None:
        loop = self.setup()
        try:
            pulumi.runtime.set_mocks(
                self.mocks, project=self.project, stack=self.stack, preview=self.preview
            )
            # pulumi.runtime.test is unannotated in the SDK.
            pulumi.runtime.test(self.wrapped)()  # type: ignore[no-untyped-call]
        except BaseException as exc:
            self.failure.append(exc)
        finally:
            self.teardown(loop)

    def setup(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(self.quiet_about_reraised)
        asyncio.set_event_loop(loop)
        loop.set_default_executor(
            concurrent.futures.ThreadPoolExecutor(initializer=self.init_worker)
        )
        return loop

    def teardown(self, loop: asyncio.AbstractEventLoop) -> None:
        # A callback still pending may raise SystemExit (or KeyboardInterrupt) out of the
        # loop here: keep it as the failure and finish the shutdown anyway, or the thread
        # would die with the loop open and the caller would see no failure at all.
        for _attempt in range(3):
            try:
                loop.run_until_complete(loop.shutdown_default_executor())
                break
            except BaseException as exc:
                self.failure.append(exc)
        # What such an exception left pending is cancelled and awaited, not left to the
        # garbage collector (which would run its cleanup with no loop).
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            try:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            except BaseException as exc:
                self.failure.append(exc)
        loop.close()
        asyncio.set_event_loop(None)
        with self.worker_loops_lock:
            for worker_loop in self.worker_loops:
                worker_loop.close()
