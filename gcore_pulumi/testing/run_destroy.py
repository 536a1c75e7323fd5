"""The destroy step of a run: Delete each created resource, newest first, then read it back.

A resource is reported "deleted" only once a fresh provider process reads it back gone.
Destroy always runs, also after a failure or a Ctrl-C in an earlier step (no state is kept,
so nothing may be left behind); a first Ctrl-C during it is announced and ignored, a second
stops it after the Delete in flight. What is left is listed with a command that deletes it.
"""

from __future__ import annotations

from collections.abc import Callable

from .engine import PROVIDER_KEY
from .mocks import MockedResource
from .run_context import RunContext
from .run_output import delete_hint, error_line, label

__all__ = ["destroy"]


def destroy(run: RunContext) -> None:
    """Delete each created resource, newest first, in a fresh provider process; then read
    each back (see :func:`_confirm`) and list what is left behind."""
    todo = list(reversed(run.report.created))
    run.say("\n== Destroy (Delete each created resource, newest first)")
    if not todo:
        run.say("Nothing to delete.")
        return
    answered: list[MockedResource] = []

    def delete_all() -> None:
        watcher = run.providers.open()
        for resource in todo:
            if run.stop_destroy:
                run.report.left_behind.append(resource)
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
                run.error(f"  error: {label(resource)}  id {resource.id}: {error_line(exc)}")
                run.diagnostics(resource)
                run.report.left_behind.append(resource)
                continue
            answered.append(resource)

    def on_interrupt(count: int) -> None:
        if count == 1:
            run.say(
                "\nInterrupted: the destroy goes on, or resources would be left behind; "
                "Ctrl-C again stops it after the Delete in flight."
            )
        else:
            run.stop_destroy = True

    try:
        run.wait(delete_all, on_interrupt)
    except Exception as exc:  # the new provider process did not start
        run.error(f"  error: the provider process did not start: {error_line(exc)}")
        run.report.left_behind.extend(r for r in todo if r not in answered)
    finally:
        run.providers.close()
    _confirm(run, answered, on_interrupt)
    _left_behind(run)


def _left_behind(run: RunContext) -> None:
    """What is left, each with a command that deletes it without the CLI; or that nothing is."""
    if run.report.left_behind:
        run.say(
            f"LEFT BEHIND ({len(run.report.left_behind)}), delete them yourself "
            "(without the Pulumi CLI: the command under each; with GCORE_API_KEY set to "
            "the key):"
        )
        for resource in run.report.left_behind:
            run.say(f"  {label(resource)}  id {resource.id}")
            run.say(f"      {delete_hint(resource, run.config, run.providers.child_env)}")
    else:
        run.say(f"{len(run.report.destroyed)} resource(s) deleted; nothing is left behind.")


def _confirm(
    run: RunContext, answered: list[MockedResource], on_interrupt: Callable[[int], None]
) -> None:
    """Say "deleted" only for what Gcore no longer has: read each resource whose Delete
    succeeded back in yet another fresh provider process (no cache, no memory of what the
    deleting one did)."""
    if not answered:
        return

    def read_all() -> None:
        watcher = run.providers.open()
        for resource in answered:
            problem = ""
            if run.stop_destroy:
                problem = "not checked (stopped)"
            else:
                try:
                    if run.read_back(watcher, resource).id:
                        problem = "still exists after its Delete succeeded"
                except Exception as exc:
                    problem = f"its Delete succeeded, but reading it back failed: {error_line(exc)}"
            if problem:
                run.error(f"  error: {label(resource)}  id {resource.id}: {problem}")
                run.report.left_behind.append(resource)
            else:
                run.report.destroyed.append(resource)
                run.say(
                    f"  - {label(resource)}  deleted, id {resource.id} "
                    "(read back: Gcore no longer has it)"
                )
            run.diagnostics(resource)

    try:
        run.wait(read_all, on_interrupt)
    except Exception as exc:  # the new provider process did not start
        run.error(f"  error: could not read the deleted resources back: {error_line(exc)}")
        done = set(map(id, run.report.destroyed)) | set(map(id, run.report.left_behind))
        run.report.left_behind.extend(r for r in answered if id(r) not in done)
    finally:
        run.providers.close()
