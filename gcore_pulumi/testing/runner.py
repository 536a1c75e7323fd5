"""Run a Pulumi program without the Pulumi CLI: plan, up, refresh and destroy, keeping no state.

    python -m gcore_pulumi.testing run PROGRAM_DIR [--stack NAME]
        [--config KEY=VALUE ...] [--secret KEY=VALUE | --secret KEY ...]

This is the project's own engine driver, not the Pulumi CLI. The program's real ``__main__.py``
runs (with its folder on sys.path and as the working directory, as the Python language host
does) under ``pulumi.runtime.set_mocks``; every dynamic resource it declares is forwarded to
one real provider process (``python -m pulumi.dynamic``, see :mod:`.engine`), configured with
the stack config the way the CLI (>= 3.139) configures dynamic providers. The steps:

1. plan: the program runs as in a preview; each resource is Checked, nothing is created.
   A Check failure stops the run (nothing was created).
2. up: the program runs again; each resource is Checked and Created; ids, outputs and the
   stack outputs (``pulumi.export``) are shown.
3. refresh: each created resource is Read back with its id, inputs and outputs; what changed
   is shown as drift.
4. destroy: each created resource is Deleted, newest first. This always runs, also after a
   failure or a Ctrl-C in an earlier step: no state is kept, so nothing may be left behind.

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
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Final, TextIO, TypeVar

import pulumi
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

    def hide(self, text: str) -> str:
        """``text`` as it is printed: every secret replaced."""
        for secret in self._secrets:
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


# ---------------------------------------------------------------------------------- the run


class _Run:
    """One run: the provider process, the steps, and Ctrl-C handling."""

    def __init__(
        self,
        project: Project,
        stack: str,
        config: dict[str, str],
        secret_keys: set[str],
        printer: _Printer,
        env: Mapping[str, str] | None,
        after_step: AfterStep | None,
    ) -> None:
        self.project = project
        self.stack = stack
        self.config = config
        self.secret_keys = secret_keys
        self.say = printer
        self.after_step = after_step
        self.report = RunReport(project=project.name, stack=stack)
        child_env = dict(os.environ if env is None else env)
        child_env["PULUMI_PROJECT"] = project.name  # as the engine adds it
        child_env["GCORE_PULUMI_RUNNER"] = "1"  # hints name the runner's options (hints.py)
        # Every request carries its resource's own `__provider`; the process's default (the
        # empty string) is never sent.
        self._new_process: Callable[[], ProviderProcess] = lambda: ProviderProcess(
            "",
            env=child_env,
            cwd=str(project.program),
            stack=stack,
            start_new_session=True,  # a Ctrl-C reaches this run, which then still destroys
        )
        self.process = self._new_process()
        self._stop_destroy = False

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

    def _pass(self, mocks: ForwardingMocks) -> dict[str, Any]:
        """Run the program once under ``mocks``; return the stack outputs (up only)."""
        config, secret_keys = dict(self.config), sorted(self.secret_keys)
        program_dir = str(self.project.program)
        preview = mocks.preview

        def program() -> Any:
            pulumi.runtime.set_all_config(config, secret_keys)
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
        os.chdir(program_dir)
        try:
            outputs = self._wait(one_pass, on_interrupt)
        finally:
            os.chdir(cwd)
            _forget_modules(before, self.project.program)
        return dict(outputs or {})

    def _report_failures(self, mocks: ForwardingMocks, exc: BaseException) -> None:
        failures = [f for f in mocks.failures if not isinstance(f.error, StoppedError)]
        for failure in failures:
            line = f"  error: {failure.type_token}  {failure.name}: {_error_line(failure.error)}"
            self.say(line)
            self.report.errors.append(self.say.hide(line).strip())
        if not failures and not isinstance(exc, StoppedError):
            line = f"  error: the program failed: {type(exc).__name__}: {_error_line(exc)}"
            if isinstance(exc, pulumi.ConfigMissingError):
                line += f" (set it with --config {exc.key}=VALUE)"
            self.say(line)
            self.report.errors.append(self.say.hide(line).strip())

    def plan(self) -> bool:
        self.say("\n== Plan (a preview: Check only, nothing is created)")
        mocks = ForwardingMocks(self.process, preview=True)
        try:
            self._pass(mocks)
        except Exception as exc:
            self._report_failures(mocks, exc)
            self.say("Plan failed: nothing was created.")
            return False
        finally:
            self.report.planned = [r for r in mocks.resources if r.kind == "planned"]
        for resource in mocks.resources:
            if resource.kind == "planned":
                self.say(f"  + {_label(resource)}  would be created")
            elif resource.kind == "read":
                self.say(f"  = {_label(resource)}  would be read (id {resource.id}; not managed)")
            else:
                self.say(f"  * {_label(resource)}  not a dynamic resource: echoed as a mock")
        self.say(f"{len(self.report.planned)} resource(s) to create.")
        return True

    def up(self) -> bool:
        self.say("\n== Up (Check, then Create)")
        mocks = ForwardingMocks(self.process, preview=False)
        failure: Exception | None = None
        try:
            outputs = self._pass(mocks)
        except Exception as exc:
            failure, outputs = exc, {}
        finally:
            self.report.created = mocks.created
        for name, (value, secret) in outputs.items():
            self.report.outputs[name] = value
            if secret:
                self.report.secret_outputs.add(name)
        for resource in mocks.resources:
            if resource.kind == "created":
                self.say(f"  + {_label(resource)}  created, id {resource.id}")
                self.say(f"      outputs: {_text(resource.outputs)}")
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
            ok = True
            for index, resource in enumerate(created):
                if stop.is_set():
                    return ok
                provider = resource.inputs.get(PROVIDER_KEY)
                try:
                    read = self.process.read(
                        str(resource.id),
                        {**resource.outputs, PROVIDER_KEY: provider},
                        resource.inputs,
                        urn=resource.urn,
                    )
                except Exception as exc:
                    line = f"  error: {_label(resource)}: {_error_line(exc)}"
                    self.say(line)
                    self.report.errors.append(self.say.hide(line).strip())
                    ok = False
                    continue
                if not read.id:
                    found = Refreshed(resource, None, {})
                    self.say(f"  ~ {_label(resource)}  drift: gone (deleted outside this run)")
                else:
                    found = Refreshed(
                        resource, read.outputs, _changes(resource.outputs, read.outputs)
                    )
                    self.say(f"  ~ {_label(resource)}  {_drift_text(found)}")
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
                self.report.refreshed.append(found)
            return ok

        def on_interrupt(count: int) -> None:
            stop.set()

        try:
            ok = self._wait(work, on_interrupt)
        finally:
            gone = {r.resource.urn for r in self.report.refreshed if r.gone}
            self.report.created = [r for r in created if r.urn not in gone]
        if not ok or self.report.interrupted:
            return False
        drifted = len(self.report.drifted)
        self.say("No drift." if not drifted else f"{drifted} resource(s) drifted.")
        return True

    def destroy(self) -> None:
        todo = list(reversed(self.report.created))
        self.say("\n== Destroy (Delete each created resource, newest first)")
        if not todo:
            self.say("Nothing to delete.")
            return

        restarted = False

        def usable_process() -> ProviderProcess:
            # The provider keeps no state: one that died (crashed, killed) is replaced, once,
            # so that what was created is still deleted.
            nonlocal restarted
            code = self.process.returncode
            if code is None or restarted:
                return self.process
            restarted = True
            self.say(
                f"  the provider process exited (status {code}); "
                "starting a new one to delete what was created"
            )
            self.process.stop()
            self.process = self._new_process()
            self.process.start()
            self.process.configure(self.config, secret_keys=self.secret_keys)
            return self.process

        def work() -> None:
            for resource in todo:
                if self._stop_destroy:
                    self.report.left_behind.append(resource)
                    continue
                provider = resource.inputs.get(PROVIDER_KEY)
                try:
                    usable_process().delete(
                        str(resource.id),
                        {**resource.outputs, PROVIDER_KEY: provider},
                        old_inputs=resource.inputs,
                        urn=resource.urn,
                    )
                except Exception as exc:
                    line = f"  error: {_label(resource)}  id {resource.id}: {_error_line(exc)}"
                    self.say(line)
                    self.report.errors.append(self.say.hide(line).strip())
                    self.report.left_behind.append(resource)
                    continue
                self.report.destroyed.append(resource)
                self.say(f"  - {_label(resource)}  deleted, id {resource.id}")

        def on_interrupt(count: int) -> None:
            if count == 1:
                self.say(
                    "\nInterrupted: the destroy goes on, or resources would be left behind; "
                    "Ctrl-C again stops it after the Delete in flight."
                )
            else:
                self._stop_destroy = True

        self._wait(work, on_interrupt)
        if self.report.left_behind:
            self.say(f"LEFT BEHIND ({len(self.report.left_behind)}), delete them yourself:")
            for resource in self.report.left_behind:
                self.say(f"  {_label(resource)}  id {resource.id}")
        else:
            self.say(f"{len(self.report.destroyed)} resource(s) deleted; nothing is left behind.")

    # -- everything

    def run(self) -> RunReport:
        report = self.report
        try:
            self.process.start()
            self.process.configure(self.config, secret_keys=self.secret_keys)
        except BaseException as exc:
            self.process.stop()
            if isinstance(exc, KeyboardInterrupt):
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
                self.destroy()
            finally:
                self.process.stop()
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


def _drift_text(found: Refreshed) -> str:
    if not found.changes:
        return "no drift"
    parts = [
        f"{key}: {json.dumps(_shown(old), default=str)} -> {json.dumps(_shown(new), default=str)}"
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
) -> RunReport:
    """Plan, up, refresh and destroy the Pulumi program in ``program_dir``; print each step.

    ``config`` (keys with or without namespace) overrides the stack's Pulumi.<stack>.yaml;
    the keys in ``secret_keys`` are secrets (never printed, sent to the provider as secrets).
    ``out`` defaults to sys.stdout; ``env`` is the provider process's environment (default:
    this one's). Call it from the main thread for Ctrl-C to be handled (destroy, then status
    130). A ProjectError (nothing ran) is printed and gives status 2.
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
    return _Run(project, stack, merged, secrets, say, env, after_step).run()


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
    return parser


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
        report = run(args.program_dir, stack=args.stack, config=config, secret_keys=secret_keys)
    return report.status


if __name__ == "__main__":
    sys.exit(main())
