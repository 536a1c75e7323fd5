"""Run a Pulumi program without the Pulumi CLI: plan, up, refresh and destroy, keeping no state.

    python -m gcore_pulumi.testing run PROGRAM_DIR [--stack NAME]
        [--config KEY=VALUE ...] [--secret KEY=VALUE | --secret KEY ...]

This is the project's own engine driver, not the Pulumi CLI. The program's real ``__main__.py``
runs (with its folder on sys.path and as the working directory, as the Python language host
does) under ``pulumi.runtime.set_mocks``; every dynamic resource it declares is forwarded to
a real provider process (``python -m pulumi.dynamic``, see :mod:`.engine`), configured with
the stack config the way the CLI (>= 3.139) configures dynamic providers. As the CLI starts
one per command, each operation gets a fresh one: plan and up, refresh, destroy, and the
destroy's read-back. Provider calls go one at a time, so that what the provider prints
(its diagnostics) is shown under the resource it concerns; resources are listed in the order
the program registers them. The steps:

1. plan: the program runs as in a preview; each resource is Checked, nothing is created.
   A Check failure stops the run (nothing was created).
2. up: the program runs again; each resource is Checked and Created; ids, outputs and the
   stack outputs (``pulumi.export``) are shown.
3. refresh: each created resource is Read back with its id, inputs and outputs; what changed
   is shown as drift.
4. destroy: each created resource is Deleted, newest first, then read back: it is reported
   "deleted" only when Gcore no longer has it. This always runs, also after a failure or a
   Ctrl-C in an earlier step: no state is kept, so nothing may be left behind; what is left
   is listed with a command that deletes it without the CLI.

``--pause-after-up`` waits for Enter between up and refresh (change something by hand to
see drift); ``--show-outputs`` lists each created resource's outputs, not only its inputs.

Resources that are not dynamic resources are echoed as mocks (nothing is created for them);
``Resource.get`` reads are forwarded as Reads and never deleted.

The project's name comes from PROGRAM_DIR/Pulumi.yaml (``main:`` is honoured); the config from
Pulumi.yaml's ``config:`` (``value:``/``default:``), then Pulumi.<stack>.yaml (in PROGRAM_DIR or
its ``stackConfigDir:``), then ``--config`` and ``--secret`` (a key without a namespace gets
the project's, as ``pulumi config set`` does).
``secure:`` values cannot be decrypted here: pass those keys with ``--secret``.
``--secret KEY`` without ``=VALUE`` reads the value from a line of standard input, so that it
appears on no command line. Secret values never appear in the output.

Exit status: 0 all steps succeeded, 1 a step failed (whatever was created was destroyed),
2 the command line, Pulumi.yaml or the stack config is wrong (nothing ran), 130 interrupted
(whatever was created was destroyed).

The Python API is :func:`run`, which returns a :class:`RunReport`.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import signal
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Final, TextIO, TypeVar

import pulumi
from pulumi.runtime import MockResourceArgs, rpc
from pulumi.runtime import settings as pulumi_settings

from .engine import PROVIDER_KEY, CheckFailedError, ProviderProcess, ProviderRpcError
from .mocks import ForwardingMocks, MockedResource, StoppedError, run_program
from .stack_config import Project, ProjectError, load_project, load_stack_config, namespaced

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Project",
    "ProjectError",
    "Refreshed",
    "RunReport",
    "build_parser",
    "load_project",
    "load_stack_config",
    "main",
    "namespaced",
    "run",
]

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130

DEFAULT_STACK: Final = "dev"
PROGRAM_TIMEOUT: Final = 24 * 3600.0
"""run_program's overall limit: effectively none; every RPC has its own timeout."""

HEADER: Final = (
    "gcore_pulumi runner: the project's built-in engine driver, NOT the Pulumi CLI.\n"
    "No stack state is kept: everything created by this run is destroyed again at its end."
)

RUNNER_VARIABLE: Final = "GCORE_PULUMI_RUNNER"
"""Set to "1" for the provider process and the program this runner starts, so that their hints
can name the runner's options instead of the CLI's commands."""

WAIT_NOTICE_AFTER: Final = 2.0
"""A provider call that has printed nothing for this long gets a line saying what it waits for."""
WAIT_NOTICE_EVERY: Final = 5.0

SECRET_SHOWN: Final = "[secret]"
#: Config keys that are secrets however they are given (the provider's API key).
ALWAYS_SECRET: Final = frozenset({"gcore:apiKey"})

_T = TypeVar("_T")


class ProgramExitError(Exception):
    """The program called ``sys.exit`` (at its top level or in a callback) before it finished:
    a failed pass, not a way out of the runner (whose status and destroy must still follow)."""

    def __init__(self, code: object) -> None:
        super().__init__(f"the program called sys.exit({code!r}) before it finished")
        self.code = code


# -------------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class Refreshed:
    """A created resource after refresh: ``after`` is None when it is gone (deleted outside
    this run); ``changes`` maps each output that changed to (before, after)."""

    resource: MockedResource
    after: dict[str, Any] | None
    changes: dict[str, tuple[Any, Any]]

    @property
    def gone(self) -> bool:
        return self.after is None

    @property
    def drifted(self) -> bool:
        return self.gone or bool(self.changes)


@dataclass
class RunReport:
    """What a run did, step by step. ``status`` is the exit status; ``outputs`` the stack
    outputs (values; the names of secret ones in ``secret_outputs``); ``created`` what up
    created (after refresh: as read back, without what was gone); ``errors`` the error lines
    printed."""

    project: str
    stack: str
    status: int = EXIT_OK
    planned: list[MockedResource] = field(default_factory=list)
    created: list[MockedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    refreshed: list[Refreshed] = field(default_factory=list)
    destroyed: list[MockedResource] = field(default_factory=list)
    left_behind: list[MockedResource] = field(default_factory=list)
    interrupted: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> list[Refreshed]:
        return [r for r in self.refreshed if r.drifted]


AfterStep = Callable[[str, RunReport], None]
"""Called after the "plan", "up" and "refresh" steps succeed, before the next one (a hook for
tests: change things out of band, or raise KeyboardInterrupt to act as a Ctrl-C)."""


# ------------------------------------------------------------------------------- the output


def _shown(value: Any) -> Any:
    """A value as it is printed: whole floats as integers (numbers travel as floats)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _shown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown(v) for v in value]
    return value


def _text(value: Any) -> str:
    shown = _shown(value)
    return shown if isinstance(shown, str) else json.dumps(shown, sort_keys=True, default=str)


def _error_line(exc: BaseException) -> str:
    """An exception in one line; a provider's traceback by its last line (the exception);
    Check failures as the CLI words them, ``; ``-separated."""
    if isinstance(exc, ProviderRpcError):
        lines = [line.strip() for line in exc.details.splitlines() if line.strip()]
        return f"{exc.method} failed: {lines[-1] if lines else exc.code}"
    if isinstance(exc, CheckFailedError):
        return "; ".join(
            f"property {prop} value {_text(exc.inputs.get(prop))} has a problem: {reason}"
            if prop
            else f"has a problem: {reason}"
            for prop, reason in exc.failures
        )
    return " ".join((str(exc).strip() or type(exc).__name__).split())


class _Printer:
    """Writes to the output stream with every secret value replaced by ``[secret]``."""

    def __init__(self, out: TextIO, secrets: Collection[str]) -> None:
        self._out = out
        # Each secret also as it appears inside printed JSON (quotes, backslashes and
        # non-ASCII characters escaped); longest first, so a secret containing another is
        # replaced whole.
        forms = {
            form
            for secret in secrets
            if secret
            for form in (
                secret,
                json.dumps(secret)[1:-1],
                json.dumps(secret, ensure_ascii=False)[1:-1],
            )
        }
        self._secrets = sorted(forms, key=len, reverse=True)
        self._lock = threading.Lock()
        self._closed = False

    def add_secrets(self, secrets: Collection[str]) -> None:
        """Hide these values too from now on (a program's secret inputs, once they are known)."""
        forms = {
            form
            for secret in secrets
            if secret
            for form in (
                secret,
                json.dumps(secret)[1:-1],
                json.dumps(secret, ensure_ascii=False)[1:-1],
            )
        }
        with self._lock:
            self._secrets = sorted(set(self._secrets) | forms, key=len, reverse=True)

    def hide(self, text: str) -> str:
        """``text`` as it is printed: every secret replaced."""
        with self._lock:
            secrets = list(self._secrets)
        for secret in secrets:
            text = text.replace(secret, SECRET_SHOWN)
        return text

    def __call__(self, text: str = "") -> None:
        text = self.hide(text)
        with self._lock:
            if self._closed:
                return
            try:
                self._out.write(text + "\n")
                self._out.flush()
            except (OSError, ValueError):
                # The reader went away (`... | head`, a closed terminal): stop printing, but
                # finish the run, so that the destroy still deletes what was created.
                self._closed = True
                _silence(self._out)


def _silence(out: TextIO) -> None:
    """Point a dead standard stream at /dev/null, so that the interpreter's own flush at exit
    does not fail on it again."""
    if out not in (sys.stdout, sys.stderr):
        return
    with suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)


def _label(resource: MockedResource) -> str:
    return f"{resource.type_token}  {resource.name}"


def _is_secret(value: Any) -> bool:
    if rpc.is_rpc_secret(value):
        return True
    if isinstance(value, Mapping):
        return any(_is_secret(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_is_secret(v) for v in value)
    return False


def _secret_strings(value: Any) -> list[str]:
    """Every string (and the JSON of every other scalar) inside a secret value."""
    if rpc.is_rpc_secret(value):
        value = value.get("value")
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _secret_strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _secret_strings(v)]
    if value is None or isinstance(value, bool):
        return []
    return [value if isinstance(value, str) else json.dumps(_shown(value))]


def _compact(value: Any) -> str:
    shown = _shown(value)
    if isinstance(shown, str):
        return shown if shown and not any(c.isspace() for c in shown) else json.dumps(shown)
    return json.dumps(shown, sort_keys=True, default=str, separators=(",", ":"))


#: Shown first, in this order; a rule's port range as one ``ports=``.
_FIRST: Final = ("name", "direction", "ethertype", "protocol", "ports")
#: Where the resource lives: shown with --show-outputs only.
_PLACE: Final = frozenset({"project_id", "region_id"})


def _fields(props: Mapping[str, Any], secret_keys: Collection[str]) -> str:
    """The inputs that say something, ``key=value`` on one line: secrets masked; None, empty
    and false values, the project and region and the pickled provider left out."""
    values = {
        key: value
        for key, value in props.items()
        if key != PROVIDER_KEY and key not in _PLACE and value not in (None, False, "", [], {})
    }
    low, high = values.get("port_range_min"), values.get("port_range_max")
    if low is not None and not ({"port_range_min", "port_range_max"} & set(secret_keys)):
        del values["port_range_min"]
        values.pop("port_range_max", None)
        values["ports"] = _shown(low) if high in (None, low) else f"{_shown(low)}-{_shown(high)}"
    order = [k for k in _FIRST if k in values] + sorted(k for k in values if k not in _FIRST)
    parts = [f"{k}={SECRET_SHOWN if k in secret_keys else _compact(values[k])}" for k in order]
    return " ".join(parts) or "(no inputs)"


def _delete_hint(resource: MockedResource, config: Mapping[str, str]) -> str:
    """How to delete a left-behind Gcore resource without the Pulumi CLI: one curl command
    (the API key from $GCORE_API_KEY, never printed)."""
    base = (config.get("gcore:baseUrl") or "https://api.gcore.com").rstrip("/")
    project = _shown(resource.outputs.get("project_id") or config.get("gcore:projectId") or "P")
    region = _shown(resource.outputs.get("region_id") or config.get("gcore:regionId") or "R")
    kind = resource.type_token.rsplit(":", 1)[-1]
    route = {"SecurityGroupRule": "securitygrouprules", "SecurityGroup": "securitygroups"}
    if kind not in route:
        return "delete it where it was made (it is not a Gcore security group or rule)"
    return (
        f'curl -X DELETE -H "Authorization: APIKey $GCORE_API_KEY" '
        f"{base}/cloud/v1/{route[kind]}/{project}/{region}/{resource.id}"
    )


class _Watcher:
    """Shows what the provider process prints (its diagnostics: retries, adoption,
    reconciliation, slow tasks, warnings) as it prints it, and, when a call has printed nothing
    for WAIT_NOTICE_AFTER seconds, what it is waiting for; keeps the lines per resource for the
    step's summary.

    Calls go one at a time (``call``), so every line belongs to the one resource whose call
    was in flight; lines printed outside any call belong to the provider process itself (key
    None)."""

    def __init__(self, process: ProviderProcess, say: _Printer) -> None:
        self.process = process
        self.say = say
        self.lines: dict[str | None, list[str]] = {}
        self._call_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._seen = {"stdout": 0, "stderr": 0}
        self._current: tuple[str, str | None, str, float] | None = None
        self._quiet_since = time.monotonic()
        self._next_notice = WAIT_NOTICE_AFTER
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, name="runner-watcher", daemon=True)

    def start(self) -> _Watcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5)
        self.collect()

    @contextmanager
    def call(self, what: str, urn: str | None, name: str) -> Iterator[None]:
        """One provider call for the resource ``urn`` (``what``: "Create", ...), alone."""
        with self._call_lock:
            self.collect()
            with self._state_lock:
                self._current = (what, urn, name, time.monotonic())
                self._quiet_since = time.monotonic()
                self._next_notice = WAIT_NOTICE_AFTER
            try:
                yield
            finally:
                self.collect()
                with self._state_lock:
                    self._current = None

    def take(self, urn: str | None) -> list[str]:
        with self._state_lock:
            return self.lines.pop(urn, [])

    def collect(self) -> None:
        """Print and keep whatever the provider wrote since last time."""
        with self._state_lock:
            new = []
            for stream in ("stderr", "stdout"):  # Literal strings
                text = self.process.output(stream)
                done = text.rfind("\n") + 1
                if done > self._seen[stream]:
                    new += text[self._seen[stream] : done].splitlines()
                    self._seen[stream] = done
            new = [" ".join(line.split()) for line in new if line.strip()]
            if not new:
                return
            current = self._current
            self._quiet_since = time.monotonic()
            self._next_notice = WAIT_NOTICE_AFTER
            urn, name = (current[1], current[2]) if current else (None, "provider")
            self.lines.setdefault(urn, []).extend(new)
        for line in new:
            self.say(f"      [{name}] {line}")

    def _tick(self) -> None:
        while not self._stop.wait(0.25):
            with suppress(Exception):
                self.collect()
                with self._state_lock:
                    current = self._current
                    quiet = time.monotonic() - self._quiet_since
                    due = current is not None and quiet >= self._next_notice
                    if due:
                        self._next_notice = quiet + WAIT_NOTICE_EVERY
                if due and current is not None:
                    what, _, name, started = current
                    self.say(
                        f"      [{name}] still waiting for the provider's {what} "
                        f"({time.monotonic() - started:.0f} s so far; it prints why when it "
                        "retries)"
                    )


class _RunnerMocks(ForwardingMocks):
    """ForwardingMocks whose provider calls go one at a time through a _Watcher (so each
    diagnostic line belongs to one resource), and that note which inputs the program gave as
    secrets (the engine keeps those secret in the outputs too)."""

    def __init__(self, watcher: _Watcher, say: _Printer, *, preview: bool) -> None:
        super().__init__(watcher.process, preview=preview)
        self.watcher = watcher
        self.say = say
        self.secret_keys: dict[str, set[str]] = {}

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        urn = self.process.make_urn(args.name, args.typ)
        inputs = {k: v for k, v in args.inputs.items() if k != PROVIDER_KEY}
        secret = {key for key, value in inputs.items() if _is_secret(value)}
        self.say.add_secrets([t for key in secret for t in _secret_strings(inputs[key])])
        with self._lock:
            self.secret_keys[urn] = secret
        what = "Read" if args.resource_id else "Check" if self.preview else "Create"
        with self.watcher.call(what, urn, args.name):
            return super().new_resource(args)


class _Registrations:
    """The order in which the program registers its resources (a stack transformation runs
    in each resource's constructor, before anything is awaited)."""

    def __init__(self) -> None:
        self.order: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def install(self) -> None:
        def note(args: pulumi.ResourceTransformationArgs) -> None:
            with self._lock:
                self.order.setdefault((args.type_, args.name), len(self.order))

        if pulumi_settings.get_root_resource() is not None:
            pulumi.runtime.register_stack_transformation(note)

    def sorted(self, resources: Sequence[MockedResource]) -> list[MockedResource]:
        last = len(self.order)
        return sorted(resources, key=lambda r: self.order.get((r.type_token, r.name), last))


# ---------------------------------------------------------------------------------- the run


class _Run:
    """One run: a provider process per operation (as the CLI starts one per command), the
    steps, and Ctrl-C handling."""

    def __init__(
        self,
        project: Project,
        stack: str,
        config: dict[str, str],
        secret_keys: set[str],
        printer: _Printer,
        env: Mapping[str, str] | None,
        after_step: AfterStep | None,
        show_outputs: bool = False,
    ) -> None:
        self.project = project
        self.stack = stack
        self.config = config
        self.secret_keys = secret_keys
        self.say = printer
        self.after_step = after_step
        self.show_outputs = show_outputs
        self.report = RunReport(project=project.name, stack=stack)
        child_env = dict(os.environ if env is None else env)
        child_env["PULUMI_PROJECT"] = project.name  # as the engine adds it
        child_env[RUNNER_VARIABLE] = "1"
        self.child_env = child_env
        self.secret_inputs: dict[str, set[str]] = {}
        self.watcher: _Watcher | None = None
        self._stop_destroy = False

    # -- provider processes: one per operation

    def _new_process(self) -> ProviderProcess:
        # Every request carries its resource's own `__provider`; the process's default (the
        # empty string) is never sent.
        return ProviderProcess(
            "",
            env=self.child_env,
            cwd=str(self.project.program),
            stack=self.stack,
            start_new_session=True,  # a Ctrl-C reaches this run, which then still destroys
        )

    def _open(self) -> _Watcher:
        """A fresh, configured provider process and its watcher (replacing the last one)."""
        self._close()
        process = self._new_process()
        watcher = _Watcher(process, self.say)
        try:
            process.start()
            watcher.start()
            with watcher.call("Configure", None, "provider"):
                process.configure(self.config, secret_keys=self.secret_keys)
        except BaseException:
            watcher.stop()
            process.stop()
            raise
        self.watcher = watcher
        return watcher

    def _close(self) -> None:
        watcher, self.watcher = self.watcher, None
        if watcher is not None:
            watcher.stop()
            watcher.process.stop()

    # -- waiting in the main thread, where Ctrl-C arrives

    def _wait(self, work: Callable[[], _T], on_interrupt: Callable[[int], None]) -> _T:
        """Run ``work`` in a thread and wait for it; each Ctrl-C meanwhile calls
        ``on_interrupt(count)`` and the wait goes on, so work in flight always finishes."""
        result: list[_T] = []
        failure: list[BaseException] = []
        done = threading.Event()

        def target() -> None:
            try:
                result.append(work())
            except BaseException as exc:
                failure.append(exc)
            finally:
                done.set()

        # Not Thread.join: a KeyboardInterrupt inside join() can leave a running thread
        # marked as stopped (CPython's bpo-45274 handling), and the wait would end early.
        threading.Thread(target=target, name="runner-step", daemon=True).start()
        count = 0
        while not done.is_set():
            try:
                done.wait(0.2)
            except KeyboardInterrupt:
                count += 1
                self.report.interrupted = True
                on_interrupt(count)
        if failure:
            raise failure[0]
        return result[0]

    # -- the program passes

    def _pass(self, mocks: _RunnerMocks, registrations: _Registrations) -> dict[str, Any]:
        """Run the program once under ``mocks``; return the stack outputs (up only)."""
        config, secret_keys = dict(self.config), sorted(self.secret_keys)
        program_dir = str(self.project.program)
        preview = mocks.preview

        def program() -> Any:
            pulumi.runtime.set_all_config(config, secret_keys)
            registrations.install()
            runpy.run_path(program_dir, run_name="__main__")
            return None if preview else _stack_outputs()

        def on_interrupt(count: int) -> None:
            mocks.stop()
            if count == 1:
                self.say("\nInterrupted: no more Creates are sent; waiting for those in flight.")

        def one_pass() -> Any:
            try:
                return run_program(
                    mocks,
                    program,
                    project=self.project.name,
                    stack=self.stack,
                    timeout=PROGRAM_TIMEOUT,
                )
            except SystemExit as exc:  # BaseException: it would end the runner itself
                raise ProgramExitError(exc.code) from None

        before = set(sys.modules)
        cwd = os.getcwd()
        previous = os.environ.get(RUNNER_VARIABLE)
        os.environ[RUNNER_VARIABLE] = "1"  # the program runs in this process
        os.chdir(program_dir)
        try:
            outputs = self._wait(one_pass, on_interrupt)
        finally:
            os.chdir(cwd)
            if previous is None:
                os.environ.pop(RUNNER_VARIABLE, None)
            else:
                os.environ[RUNNER_VARIABLE] = previous
            _forget_modules(before, self.project.program)
            self.secret_inputs.update(mocks.secret_keys)
        return dict(outputs or {})

    def _error(self, line: str) -> None:
        self.say(line)
        self.report.errors.append(self.say.hide(line).strip())

    def _report_failures(self, mocks: ForwardingMocks, exc: BaseException) -> None:
        failures = [f for f in mocks.failures if not isinstance(f.error, StoppedError)]
        for failure in failures:
            self._error(
                f"  error: {failure.type_token}  {failure.name}: {_error_line(failure.error)}"
            )
        if not failures and not isinstance(exc, StoppedError):
            line = f"  error: the program failed: {type(exc).__name__}: {_error_line(exc)}"
            if isinstance(exc, pulumi.ConfigMissingError):
                line += f" (set it with --config {exc.key}=VALUE)"
            self._error(line)

    def _details(self, resource: MockedResource, *, outputs: bool) -> None:
        """The lines under a resource: its inputs on one line, its outputs on request, and
        what the provider printed while working on it."""
        secret = self.secret_inputs.get(resource.urn, set())
        self.say(f"      {_fields(resource.inputs, secret)}")
        if outputs and self.show_outputs:
            for key, value in sorted(resource.outputs.items()):
                shown = SECRET_SHOWN if key in secret else _text(value)
                self.say(f"      output {key}: {shown}")
        if self.watcher is not None:
            for line in self.watcher.take(resource.urn):
                self.say(f"      provider: {line}")

    def plan(self) -> bool:
        self.say("\n== Plan (a preview: Check only, nothing is created)")
        watcher = self.watcher
        assert watcher is not None
        mocks = _RunnerMocks(watcher, self.say, preview=True)
        registrations = _Registrations()
        try:
            self._pass(mocks, registrations)
        except Exception as exc:
            self._report_failures(mocks, exc)
            self.say("Plan failed: nothing was created.")
            return False
        finally:
            self.report.planned = registrations.sorted(
                [r for r in mocks.resources if r.kind == "planned"]
            )
        self.say("Plan:")
        for resource in registrations.sorted(mocks.resources):
            if resource.kind == "planned":
                self.say(f"  + {_label(resource)}  would be created")
                self._details(resource, outputs=False)
            elif resource.kind == "read":
                self.say(f"  = {_label(resource)}  would be read (id {resource.id}; not managed)")
            else:
                self.say(f"  * {_label(resource)}  not a dynamic resource: echoed as a mock")
        self.say(f"{len(self.report.planned)} resource(s) to create.")
        return True

    def up(self) -> bool:
        self.say("\n== Up (Check, then Create)")
        watcher = self.watcher
        assert watcher is not None
        mocks = _RunnerMocks(watcher, self.say, preview=False)
        registrations = _Registrations()
        failure: Exception | None = None
        try:
            outputs = self._pass(mocks, registrations)
        except Exception as exc:
            failure, outputs = exc, {}
        finally:
            self.report.created = mocks.created  # in the order of creation: destroy reverses it
        for name, (value, secret) in outputs.items():
            self.report.outputs[name] = value
            if secret:
                self.report.secret_outputs.add(name)
        self.say("Created:" if mocks.resources else "Nothing was created.")
        for resource in registrations.sorted(mocks.resources):
            if resource.kind == "created":
                self.say(f"  + {_label(resource)}  created, id {resource.id}")
                self._details(resource, outputs=True)
            elif resource.kind == "read":
                self.say(f"  = {_label(resource)}  read, id {resource.id} (not managed)")
            else:
                self.say(f"  * {_label(resource)}  not a dynamic resource: echoed as a mock")
        if failure is not None:
            self._report_failures(mocks, failure)
        if failure is not None or self.report.interrupted:
            self.say(f"Up stopped after creating {len(self.report.created)} resource(s).")
            return False
        self.say(f"{len(self.report.created)} resource(s) created.")
        if not self.show_outputs and self.report.created:
            self.say("(Each resource's inputs are shown; --show-outputs lists its outputs too.)")
        if outputs:
            self.say("Outputs:")
            for name, (value, secret) in outputs.items():
                self.say(f"  {name}: {SECRET_SHOWN if secret else _text(value)}")
        return True

    def refresh(self) -> bool:
        self.say("\n== Refresh (Read each created resource back)")
        created = list(self.report.created)
        stop = threading.Event()

        def work() -> bool:
            watcher = self._open()
            ok = True
            for index, resource in enumerate(created):
                if stop.is_set():
                    return ok
                provider = resource.inputs.get(PROVIDER_KEY)
                try:
                    with watcher.call("Read", resource.urn, resource.name):
                        read = watcher.process.read(
                            str(resource.id),
                            {**resource.outputs, PROVIDER_KEY: provider},
                            resource.inputs,
                            urn=resource.urn,
                        )
                except Exception as exc:
                    self._error(f"  error: {_label(resource)}: {_error_line(exc)}")
                    self._diagnostics(resource)
                    ok = False
                    continue
                if not read.id:
                    found = Refreshed(resource, None, {})
                    self.say(f"  ~ {_label(resource)}  drift: gone (deleted outside this run)")
                else:
                    found = Refreshed(
                        resource, read.outputs, _changes(resource.outputs, read.outputs)
                    )
                    secret = self.secret_inputs.get(resource.urn, set())
                    self.say(f"  ~ {_label(resource)}  {_drift_text(found, secret)}")
                    # The state the engine would keep after refresh: what destroy then uses.
                    created[index] = MockedResource(
                        resource.kind,
                        resource.type_token,
                        resource.name,
                        resource.urn,
                        read.id,
                        resource.inputs,
                        read.outputs,
                    )
                self._diagnostics(resource)
                self.report.refreshed.append(found)
            return ok

        def on_interrupt(count: int) -> None:
            stop.set()

        try:
            ok = self._wait(work, on_interrupt)
        except Exception as exc:  # the new provider process did not start
            self._error(f"  error: the provider process did not start: {_error_line(exc)}")
            ok = False
        finally:
            gone = {r.resource.urn for r in self.report.refreshed if r.gone}
            self.report.created = [r for r in created if r.urn not in gone]
            self._close()
        if not ok or self.report.interrupted:
            return False
        drifted = len(self.report.drifted)
        self.say("No drift." if not drifted else f"{drifted} resource(s) drifted.")
        return True

    def _diagnostics(self, resource: MockedResource) -> None:
        if self.watcher is not None:
            for line in self.watcher.take(resource.urn):
                self.say(f"      provider: {line}")

    def destroy(self) -> None:
        todo = list(reversed(self.report.created))
        self.say("\n== Destroy (Delete each created resource, newest first)")
        if not todo:
            self.say("Nothing to delete.")
            return
        answered: list[MockedResource] = []

        def delete_all() -> None:
            watcher = self._open()
            for resource in todo:
                if self._stop_destroy:
                    self.report.left_behind.append(resource)
                    continue
                provider = resource.inputs.get(PROVIDER_KEY)
                try:
                    with watcher.call("Delete", resource.urn, resource.name):
                        watcher.process.delete(
                            str(resource.id),
                            {**resource.outputs, PROVIDER_KEY: provider},
                            old_inputs=resource.inputs,
                            urn=resource.urn,
                        )
                except Exception as exc:
                    self._error(
                        f"  error: {_label(resource)}  id {resource.id}: {_error_line(exc)}"
                    )
                    self._diagnostics(resource)
                    self.report.left_behind.append(resource)
                    continue
                answered.append(resource)

        def on_interrupt(count: int) -> None:
            if count == 1:
                self.say(
                    "\nInterrupted: the destroy goes on, or resources would be left behind; "
                    "Ctrl-C again stops it after the Delete in flight."
                )
            else:
                self._stop_destroy = True

        try:
            self._wait(delete_all, on_interrupt)
        except Exception as exc:  # the new provider process did not start
            self._error(f"  error: the provider process did not start: {_error_line(exc)}")
            self.report.left_behind.extend(r for r in todo if r not in answered)
        finally:
            self._close()
        self._confirm(answered, on_interrupt)
        if self.report.left_behind:
            self.say(
                f"LEFT BEHIND ({len(self.report.left_behind)}), delete them yourself "
                "(without the Pulumi CLI: the command under each; with GCORE_API_KEY set to "
                "the key):"
            )
            for resource in self.report.left_behind:
                self.say(f"  {_label(resource)}  id {resource.id}")
                self.say(f"      {_delete_hint(resource, self.config)}")
        else:
            self.say(f"{len(self.report.destroyed)} resource(s) deleted; nothing is left behind.")

    def _confirm(self, answered: list[MockedResource], on_interrupt: Callable[[int], None]) -> None:
        """Say "deleted" only for what Gcore no longer has: read each resource whose Delete
        succeeded back in yet another fresh provider process (no cache, no memory of what the
        deleting one did)."""
        if not answered:
            return

        def read_all() -> None:
            watcher = self._open()
            for resource in answered:
                provider = resource.inputs.get(PROVIDER_KEY)
                problem = ""
                if self._stop_destroy:
                    problem = "not checked (stopped)"
                else:
                    try:
                        with watcher.call("Read", resource.urn, resource.name):
                            read = watcher.process.read(
                                str(resource.id),
                                {**resource.outputs, PROVIDER_KEY: provider},
                                resource.inputs,
                                urn=resource.urn,
                            )
                        if read.id:
                            problem = "still exists after its Delete succeeded"
                    except Exception as exc:
                        problem = (
                            f"its Delete succeeded, but reading it back failed: {_error_line(exc)}"
                        )
                if problem:
                    self._error(f"  error: {_label(resource)}  id {resource.id}: {problem}")
                    self.report.left_behind.append(resource)
                else:
                    self.report.destroyed.append(resource)
                    self.say(
                        f"  - {_label(resource)}  deleted, id {resource.id} "
                        "(read back: Gcore no longer has it)"
                    )
                self._diagnostics(resource)

        try:
            self._wait(read_all, on_interrupt)
        except Exception as exc:  # the new provider process did not start
            self._error(f"  error: could not read the deleted resources back: {_error_line(exc)}")
            done = set(map(id, self.report.destroyed)) | set(map(id, self.report.left_behind))
            self.report.left_behind.extend(r for r in answered if id(r) not in done)
        finally:
            self._close()

    # -- everything

    def run(self) -> RunReport:
        report = self.report
        try:
            self._wait(self._open, lambda count: None)
        except BaseException as exc:
            self._close()
            if report.interrupted or isinstance(exc, KeyboardInterrupt):
                report.interrupted, report.status = True, EXIT_INTERRUPTED
                self.say("Run interrupted (Ctrl-C) before anything was created.")
                return report
            if not isinstance(exc, Exception):
                raise
            self.say(f"error: the provider process did not start: {_error_line(exc)}")
            report.status = EXIT_FAILED
            return report
        try:
            if not self._steps():
                report.status = EXIT_FAILED
        except KeyboardInterrupt:
            report.interrupted = True
        except Exception as exc:  # a failure of the after_step hook, or a bug here
            self.say(f"error: {type(exc).__name__}: {_error_line(exc)}")
            report.status = EXIT_FAILED
        finally:
            try:
                self._close()  # the plan/up process, if refresh did not run
                self.destroy()
            finally:
                self._close()
        if report.interrupted:
            report.status = EXIT_INTERRUPTED
        elif report.left_behind:
            report.status = EXIT_FAILED
        self.say("")
        if report.status == EXIT_OK:
            self.say("Run finished: plan, up, refresh and destroy all succeeded.")
        elif report.status == EXIT_INTERRUPTED:
            self.say("Run interrupted (Ctrl-C); what it had created was destroyed.")
        else:
            self.say("Run FAILED (see the errors above).")
        return report

    def _steps(self) -> bool:
        for name, step in (("plan", self.plan), ("up", self.up), ("refresh", self.refresh)):
            if not step() or self.report.interrupted:
                return False
            if name == "up":
                self._close()  # as the CLI: the next command starts a provider of its own
            if self.after_step is not None:
                self.after_step(name, self.report)
        return True


def _stack_outputs() -> Any:
    """The exported stack outputs as an Output of {name: (value, is_secret)}."""
    root = pulumi_settings.get_root_resource()
    exported: dict[str, Any] = dict(getattr(root, "outputs", None) or {})
    if not exported:
        return {}
    pairs = {}
    for name, value in exported.items():
        output = pulumi.Output.from_input(value)
        is_secret: Any = output.is_secret()  # an awaitable bool
        pairs[name] = pulumi.Output.all(output, pulumi.Output.from_input(is_secret))
    return pulumi.Output.all(**pairs).apply(
        lambda resolved: {name: (pair[0], bool(pair[1])) for name, pair in resolved.items()}
    )


def _forget_modules(before: set[str], folder: Path) -> None:
    """Unload the program's own modules, so the next pass imports them afresh (as the language
    host's fresh process does)."""
    for name in set(sys.modules) - before:
        file = getattr(sys.modules.get(name), "__file__", None)
        if file and Path(file).resolve().is_relative_to(folder):
            del sys.modules[name]


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {
        key: (before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def _drift_text(found: Refreshed, secret_keys: Collection[str] = ()) -> str:
    if not found.changes:
        return "no drift"
    parts = [
        f"{key}: {SECRET_SHOWN} -> {SECRET_SHOWN} (changed)"
        if key in secret_keys
        else f"{key}: {json.dumps(_shown(old), default=str)} -> "
        f"{json.dumps(_shown(new), default=str)}"
        for key, (old, new) in found.changes.items()
    ]
    return "drift: " + "; ".join(parts)


def run(
    program_dir: str | os.PathLike[str],
    *,
    stack: str = DEFAULT_STACK,
    config: Mapping[str, str] | None = None,
    secret_keys: Collection[str] = (),
    out: TextIO | None = None,
    env: Mapping[str, str] | None = None,
    after_step: AfterStep | None = None,
    show_outputs: bool = False,
) -> RunReport:
    """Plan, up, refresh and destroy the Pulumi program in ``program_dir``; print each step.

    ``config`` (keys with or without namespace) overrides the stack's Pulumi.<stack>.yaml;
    the keys in ``secret_keys`` are secrets (never printed, sent to the provider as secrets).
    ``out`` defaults to sys.stdout; ``env`` is the provider process's environment (default:
    this one's; GCORE_PULUMI_RUNNER=1 is added). ``show_outputs`` lists each created
    resource's outputs too (secrets masked). Call it from the main thread for Ctrl-C to be
    handled (destroy, then status 130). A ProjectError (nothing ran) is printed and gives status 2.
    """
    say = _Printer(out or sys.stdout, [])
    for line in HEADER.splitlines():
        say(line)
    try:
        project = load_project(program_dir)
        given = {namespaced(k, project.name): v for k, v in (config or {}).items()}
        # the provider's key is a secret however it was given (--config too)
        secrets = {namespaced(k, project.name) for k in secret_keys} | ALWAYS_SECRET
        merged = {**project.defaults, **load_stack_config(project, stack, given), **given}
    except ProjectError as exc:
        say(f"error: {exc}")
        return RunReport(project="", stack=stack, status=EXIT_USAGE, errors=[str(exc)])
    say = _Printer(out or sys.stdout, [merged[k] for k in secrets if k in merged])
    say(f"Project {project.name}, stack {stack}, program {project.program}")
    for key in sorted(merged):
        say(f"  config {key}: {SECRET_SHOWN if key in secrets else merged[key]}")
    return _Run(project, stack, merged, secrets, say, env, after_step, show_outputs).run()


# ---------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gcore_pulumi.testing run",
        description=(
            "Run a Pulumi program without the Pulumi CLI: plan (Check), up (Create), refresh "
            "(Read), then destroy (Delete) everything it created. This is the project's "
            "built-in engine driver; no stack state is kept."
        ),
    )
    parser.add_argument("program_dir", metavar="PROGRAM_DIR", help="folder with Pulumi.yaml")
    parser.add_argument(
        "--stack",
        default=DEFAULT_STACK,
        help="stack name: its Pulumi.<stack>.yaml config is read if present (default: %(default)s)",
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config value (repeatable); KEY without a namespace gets the project's",
    )
    parser.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="KEY[=VALUE]",
        help="a secret config value (repeatable); without =VALUE, read from a line of stdin",
    )
    parser.add_argument(
        "--show-outputs",
        action="store_true",
        help="list every output of each created resource (secrets masked), not only its inputs",
    )
    parser.add_argument(
        "--pause-after-up",
        action="store_true",
        help="after up, wait for Enter before refresh and destroy: change a resource by hand "
        "meanwhile (in the Gcore console, with curl, in the emulator) to see refresh report "
        "it as drift",
    )
    return parser


PAUSE_TEXT: Final = (
    "\nPaused after up (--pause-after-up): what is listed above exists now. Change it by hand "
    "if you like (a rule's description or ports in the Gcore console, with curl, or in the "
    "emulator) and the refresh will report it as drift. Press Enter to refresh and destroy "
    "(Ctrl-C destroys at once)."
)


def _pause_after_up(out: TextIO, stdin: TextIO) -> AfterStep:
    def pause(step: str, report: RunReport) -> None:
        if step != "up":
            return
        out.write(PAUSE_TEXT + "\n")
        out.flush()
        if not stdin.readline():
            out.write("(standard input is closed: going on without waiting)\n")
            out.flush()

    return pause


def _assignment(parser: argparse.ArgumentParser, option: str, text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        parser.error(f"{option} {text.split('=')[0]!r}: expected KEY=VALUE")
    return key.strip(), value


TERMINATION_SIGNALS: Final = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextmanager
def termination_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP act as a Ctrl-C meanwhile (main thread only): the run then still
    destroys what it created and stops its provider process, which has a session of its own
    and so would outlive this one."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, interrupt) for signum in TERMINATION_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    config: dict[str, str] = {}
    for text in args.config:
        key, value = _assignment(parser, "--config", text)
        config[key] = value
    secret_keys: list[str] = []
    for text in args.secret:
        if "=" in text:
            key, value = _assignment(parser, "--secret", text)
        else:
            key = text.strip()
            line = sys.stdin.readline()
            if not key or not line:
                parser.error(f"--secret {key}: no =VALUE and no line for it on standard input")
            value = line.rstrip("\r\n")
        config[key] = value
        secret_keys.append(key)
    with termination_as_interrupt():
        report = run(
            args.program_dir,
            stack=args.stack,
            config=config,
            secret_keys=secret_keys,
            after_step=_pause_after_up(sys.stdout, sys.stdin) if args.pause_after_up else None,
            show_outputs=args.show_outputs,
        )
    return report.status


if __name__ == "__main__":
    sys.exit(main())
