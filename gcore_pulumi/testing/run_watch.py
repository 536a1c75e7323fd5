"""The provider processes of a run, one per operation, and what they print.

:class:`Providers` starts a fresh, configured provider process for each operation (as the
CLI starts one per command); its :class:`Watcher` shows what the process prints as it prints
it, under the resource whose call is in flight, and says what a quiet call waits for.
:class:`RunnerMocks` sends the program's provider calls through it one at a time, and
:class:`Registrations` keeps the order in which the program registers its resources.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any, Final

import pulumi
from pulumi.runtime import MockResourceArgs
from pulumi.runtime import settings as pulumi_settings

from .engine import PROVIDER_KEY, ProviderProcess
from .mocks import ForwardingMocks, MockedResource
from .run_output import Printer, is_secret, secret_strings
from .stack_config import Project

__all__ = [
    "RUNNER_VARIABLE",
    "WAIT_NOTICE_AFTER",
    "WAIT_NOTICE_EVERY",
    "Providers",
    "Registrations",
    "RunnerMocks",
    "Watcher",
]

RUNNER_VARIABLE: Final = "GCORE_PULUMI_RUNNER"
"""Set to "1" for the provider process and the program this runner starts, so that their hints
can name the runner's options instead of the CLI's commands."""

WAIT_NOTICE_AFTER: Final = 2.0
"""A provider call that has printed nothing for this long gets a line saying what it waits for."""
WAIT_NOTICE_EVERY: Final = 5.0


class Watcher:
    """Shows each line the provider process prints (its diagnostics: retries, adoption,
    reconciliation, slow tasks, warnings) once: a quick call's lines under its resource in
    the step's summary (as the CLI shows diagnostics), a slow call's as they come.

    Calls go one at a time (``call``), so every line belongs to the one resource whose call
    was in flight. A call's lines are held for the summary while it is quick; once it has
    run WAIT_NOTICE_AFTER seconds, its held lines and every later one are printed as they
    come, tagged ``[NAME]``, and not kept for the summary (so no wait over 2 s is silent,
    and no line shows twice); when it has printed nothing for that long, a line says what it
    waits for. Lines printed outside a resource's call (key None: the provider process
    itself, Configure) are printed as they come."""

    def __init__(self, process: ProviderProcess, say: Printer) -> None:
        self.process = process
        self.say = say
        self.lines: dict[str | None, list[str]] = {}
        self._call_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._seen = {"stdout": 0, "stderr": 0}
        self._current: tuple[str, str | None, str, float] | None = None
        self._held: list[str] = []
        """The lines of the call in flight, while it is quick (for the summary)."""
        self._live = False
        """Whether the call in flight prints its lines as they come (it is slow)."""
        self._quiet_since = time.monotonic()
        self._next_notice = WAIT_NOTICE_AFTER
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, name="runner-watcher", daemon=True)

    def start(self) -> Watcher:
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
                self._held, self._live = [], urn is None
            try:
                yield
            finally:
                self.collect()
                with self._state_lock:
                    self.lines.setdefault(urn, []).extend(self._held)
                    self._current, self._held = None, []

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
            if current is not None and not self._live:
                self._held.extend(new)
            else:  # printed under the lock, so that lines keep their order
                self._print(current[2] if current else "provider", new)

    def _print(self, name: str, lines: list[str]) -> None:
        for line in lines:
            self.say(f"      [{name}] {line}")

    def _go_live(self) -> None:
        """The call in flight has run WAIT_NOTICE_AFTER seconds: print what it held, and
        from now on its lines as they come."""
        with self._state_lock:
            current = self._current
            if current is None or self._live:
                return
            if time.monotonic() - current[3] < WAIT_NOTICE_AFTER:
                return
            self._live = True
            self._print(current[2], self._held)
            self._held = []

    def _tick(self) -> None:
        while not self._stop.wait(0.25):
            with suppress(Exception):
                self.collect()
                self._go_live()
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


class RunnerMocks(ForwardingMocks):
    """ForwardingMocks whose provider calls go one at a time through a Watcher (so each
    diagnostic line belongs to one resource), and that note which inputs the program gave as
    secrets (the engine keeps those secret in the outputs too)."""

    def __init__(self, watcher: Watcher, say: Printer, *, preview: bool) -> None:
        super().__init__(watcher.process, preview=preview)
        self.watcher = watcher
        self.say = say
        self.secret_keys: dict[str, set[str]] = {}

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        urn = self.process.make_urn(args.name, args.typ)
        inputs = {k: v for k, v in args.inputs.items() if k != PROVIDER_KEY}
        secret = {key for key, value in inputs.items() if is_secret(value)}
        self.say.add_secrets([t for key in secret for t in secret_strings(inputs[key])])
        with self._lock:
            self.secret_keys[urn] = secret
        what = "Read" if args.resource_id else "Check" if self.preview else "Create"
        with self.watcher.call(what, urn, args.name):
            return super().new_resource(args)


class Registrations:
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


class Providers:
    """A fresh, configured provider process per operation, as the CLI starts one per
    command, each with its :class:`Watcher`; opening one closes the last."""

    def __init__(
        self,
        project: Project,
        stack: str,
        config: Mapping[str, str],
        secret_keys: Collection[str],
        say: Printer,
        env: Mapping[str, str] | None,
    ) -> None:
        child_env = dict(os.environ if env is None else env)
        child_env["PULUMI_PROJECT"] = project.name  # as the engine adds it
        child_env[RUNNER_VARIABLE] = "1"
        self.child_env = child_env
        self.cwd = str(project.program)
        self.stack = stack
        self.config = config
        self.secret_keys = secret_keys
        self.say = say
        self.watcher: Watcher | None = None

    def _new_process(self) -> ProviderProcess:
        # Every request carries its resource's own `__provider`; the process's default (the
        # empty string) is never sent.
        return ProviderProcess(
            "",
            env=self.child_env,
            cwd=self.cwd,
            stack=self.stack,
            start_new_session=True,  # a Ctrl-C reaches this run, which then still destroys
        )

    def open(self) -> Watcher:
        """A fresh, configured provider process and its watcher (replacing the last one)."""
        self.close()
        process = self._new_process()
        watcher = Watcher(process, self.say)
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

    def close(self) -> None:
        watcher, self.watcher = self.watcher, None
        if watcher is not None:
            watcher.stop()
            watcher.process.stop()

    def printed(self, urn: str) -> list[str]:
        """What the provider printed while working on the resource ``urn``, once."""
        return [] if self.watcher is None else self.watcher.take(urn)
