"""One run's state and the helpers every step shares: waiting through Ctrl-C, error lines,
what the provider printed under each resource, reading a resource back."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from .engine import PROVIDER_KEY, ReadOutcome
from .mocks import MockedResource
from .run_output import SECRET_SHOWN, Printer, as_text, fields
from .run_report import AfterStep, RunReport
from .run_signals import wait_through_interrupts
from .run_watch import Providers, Watcher
from .stack_config import Project

__all__ = ["RunContext"]

_T = TypeVar("_T")


class RunContext:
    """What a run knows: its project, stack, config, printer, report and provider processes
    (one per operation, see :class:`~.run_watch.Providers`)."""

    def __init__(
        self,
        project: Project,
        stack: str,
        config: dict[str, str],
        secret_keys: set[str],
        printer: Printer,
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
        self.providers = Providers(project, stack, config, secret_keys, printer, env)
        self.secret_inputs: dict[str, set[str]] = {}
        """Per resource URN, the inputs the program gave as secrets."""
        self.stop_destroy = False
        """Set by a second Ctrl-C during destroy: no more Deletes are sent."""

    def wait(self, work: Callable[[], _T], on_interrupt: Callable[[int], None]) -> _T:
        """Run ``work`` in a thread and wait for it in this (the main) thread; each Ctrl-C
        meanwhile marks the run interrupted and calls ``on_interrupt(count)``."""

        def interrupted(count: int) -> None:
            self.report.interrupted = True
            on_interrupt(count)

        return wait_through_interrupts(work, interrupted)

    def error(self, line: str) -> None:
        self.say(line)
        self.report.errors.append(self.say.hide(line).strip())

    def diagnostics(self, resource: MockedResource) -> None:
        """What the provider printed while working on ``resource``, under it."""
        self.diagnostics_for(resource.urn)

    def diagnostics_for(self, urn: str) -> None:
        """What the provider printed during the quick calls for ``urn`` (a slow call's lines
        were printed as they came, see :class:`~.run_watch.Watcher`), each line once."""
        for line in self.providers.printed(urn):
            self.say(f"      provider: {line}")

    def details(self, resource: MockedResource, *, outputs: bool) -> None:
        """The lines under a resource: its inputs on one line, its outputs on request, and
        what the provider printed while working on it."""
        secret = self.secret_inputs.get(resource.urn, set())
        self.say(f"      {fields(resource.inputs, secret)}")
        if outputs and self.show_outputs:
            for key, value in sorted(resource.outputs.items()):
                shown = SECRET_SHOWN if key in secret else as_text(value)
                self.say(f"      output {key}: {shown}")
        self.diagnostics(resource)

    @staticmethod
    def read_back(watcher: Watcher, resource: MockedResource) -> ReadOutcome:
        """Read ``resource`` as refresh does: with its id, outputs and inputs."""
        provider = resource.inputs.get(PROVIDER_KEY)
        with watcher.call("Read", resource.urn, resource.name):
            return watcher.process.read(
                str(resource.id),
                {**resource.outputs, PROVIDER_KEY: provider},
                resource.inputs,
                urn=resource.urn,
            )
