"""The steps of a run: plan, up, refresh (and destroy, :mod:`.run_destroy`), in order.

Each step runs in a worker thread while the main thread waits, so that a Ctrl-C there is
seen and handled (see :mod:`.run_signals`); whatever happens, destroy runs last.
"""

from __future__ import annotations

import threading
from typing import Any

import pulumi

from .mocks import ForwardingMocks, MockedResource, StoppedError
from .run_context import RunContext
from .run_destroy import destroy
from .run_output import SECRET_SHOWN, as_text, changes, drift_text, error_line, label
from .run_program import as_the_language_host, program_pass
from .run_report import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, Refreshed, RunReport
from .run_watch import Registrations, RunnerMocks, Watcher

__all__ = ["Run"]


class Run(RunContext):
    """One run: plan, up, refresh and destroy, a provider process per operation (as the CLI
    starts one per command), and Ctrl-C handling."""

    # -- the program passes

    def _pass(self, mocks: RunnerMocks, registrations: Registrations) -> dict[str, Any]:
        """Run the program once under ``mocks``; return the stack outputs (up only)."""
        one_pass = program_pass(
            mocks,
            registrations,
            self.project.program,
            self.project.name,
            self.stack,
            self.config,
            self.secret_keys,
        )

        def on_interrupt(count: int) -> None:
            mocks.stop()
            if count == 1:
                self.say("\nInterrupted: no more Creates are sent; waiting for those in flight.")

        try:
            with as_the_language_host(self.project.program):
                outputs = self.wait(one_pass, on_interrupt)
        finally:
            self.secret_inputs.update(mocks.secret_keys)
        return dict(outputs or {})

    def _report_failures(self, mocks: ForwardingMocks, exc: BaseException) -> None:
        failures = [f for f in mocks.failures if not isinstance(f.error, StoppedError)]
        for failure in failures:
            self.error(
                f"  error: {failure.type_token}  {failure.name}: {error_line(failure.error)}"
            )
            self.diagnostics_for(mocks.process.make_urn(failure.name, failure.type_token))
        if not failures and not isinstance(exc, StoppedError):
            line = f"  error: the program failed: {type(exc).__name__}: {error_line(exc)}"
            if isinstance(exc, pulumi.ConfigMissingError):
                line += f" (set it with --config {exc.key}=VALUE)"
            self.error(line)

    # -- the steps

    def plan(self) -> bool:
        self.say("\n== Plan (a preview: Check only, nothing is created)")
        watcher = self.providers.watcher
        assert watcher is not None
        mocks = RunnerMocks(watcher, self.say, preview=True)
        registrations = Registrations()
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
                self.say(f"  + {label(resource)}  would be created")
                self.details(resource, outputs=False)
            elif resource.kind == "read":
                self.say(f"  = {label(resource)}  would be read (id {resource.id}; not managed)")
                self.diagnostics(resource)
            else:
                self.say(f"  * {label(resource)}  not a dynamic resource: echoed as a mock")
        self.say(f"{len(self.report.planned)} resource(s) to create.")
        return True

    def up(self) -> bool:
        self.say("\n== Up (Check, then Create)")
        watcher = self.providers.watcher
        assert watcher is not None
        mocks = RunnerMocks(watcher, self.say, preview=False)
        registrations = Registrations()
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
                self.say(f"  + {label(resource)}  created, id {resource.id}")
                self.details(resource, outputs=True)
            elif resource.kind == "read":
                self.say(f"  = {label(resource)}  read, id {resource.id} (not managed)")
                self.diagnostics(resource)
            else:
                self.say(f"  * {label(resource)}  not a dynamic resource: echoed as a mock")
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
                self.say(f"  {name}: {SECRET_SHOWN if secret else as_text(value)}")
        return True

    def refresh(self) -> bool:
        self.say("\n== Refresh (Read each created resource back)")
        created = list(self.report.created)
        stop = threading.Event()

        def work() -> bool:
            watcher = self.providers.open()
            ok = True
            for index in range(len(created)):
                if stop.is_set():
                    return ok
                ok = self._refresh_one(watcher, created, index) and ok
            return ok

        def on_interrupt(count: int) -> None:
            stop.set()

        try:
            ok = self.wait(work, on_interrupt)
        except Exception as exc:  # the new provider process did not start
            self.error(f"  error: the provider process did not start: {error_line(exc)}")
            ok = False
        finally:
            gone = {r.resource.urn for r in self.report.refreshed if r.gone}
            self.report.created = [r for r in created if r.urn not in gone]
            self.providers.close()
        if not ok or self.report.interrupted:
            return False
        drifted = len(self.report.drifted)
        self.say("No drift." if not drifted else f"{drifted} resource(s) drifted.")
        return True

    def _refresh_one(self, watcher: Watcher, created: list[MockedResource], index: int) -> bool:
        """Read ``created[index]`` back and show its drift; in ``created``, the state the
        engine would keep after refresh (what destroy then uses). False if the Read failed."""
        resource = created[index]
        try:
            read = self.read_back(watcher, resource)
        except Exception as exc:
            self.error(f"  error: {label(resource)}: {error_line(exc)}")
            self.diagnostics(resource)
            return False
        if not read.id:
            found = Refreshed(resource, None, {})
            self.say(f"  ~ {label(resource)}  drift: gone (deleted outside this run)")
        else:
            found = Refreshed(resource, read.outputs, changes(resource.outputs, read.outputs))
            secret = self.secret_inputs.get(resource.urn, set())
            self.say(f"  ~ {label(resource)}  {drift_text(found, secret)}")
            created[index] = MockedResource(
                resource.kind,
                resource.type_token,
                resource.name,
                resource.urn,
                read.id,
                resource.inputs,
                read.outputs,
            )
        self.diagnostics(resource)
        self.report.refreshed.append(found)
        return True

    def destroy(self) -> None:
        destroy(self)

    # -- everything

    def run(self) -> RunReport:
        report = self.report
        try:
            self.wait(self.providers.open, lambda count: None)
        except BaseException as exc:
            self.providers.close()
            if report.interrupted or isinstance(exc, KeyboardInterrupt):
                report.interrupted, report.status = True, EXIT_INTERRUPTED
                self.say("Run interrupted (Ctrl-C) before anything was created.")
                return report
            if not isinstance(exc, Exception):
                raise
            self.say(f"error: the provider process did not start: {error_line(exc)}")
            report.status = EXIT_FAILED
            return report
        try:
            if not self._steps():
                report.status = EXIT_FAILED
        except KeyboardInterrupt:
            report.interrupted = True
        except Exception as exc:  # a failure of the after_step hook, or a bug here
            self.say(f"error: {type(exc).__name__}: {error_line(exc)}")
            report.status = EXIT_FAILED
        finally:
            try:
                self.providers.close()  # the plan/up process, if refresh did not run
                self.destroy()
            finally:
                self.providers.close()
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
                self.providers.close()  # as the CLI: the next command starts a provider of its own
            if self.after_step is not None:
                self.after_step(name, self.report)
        return True
