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

This module is the command line and :func:`run`; the run itself is in the ``run_*``
modules: ``run_steps`` (plan, up, refresh, in order) and ``run_destroy``; ``run_program``
(one pass of the program); ``run_watch`` (a provider process per operation and what it
prints); ``run_signals`` (Ctrl-C, SIGTERM); ``run_output`` (printing, secrets masked);
``run_context`` (what every step shares); ``run_report`` (the report, exit statuses).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Collection, Mapping, Sequence
from typing import Final, TextIO

from .mocks import MockedResource
from .run_output import SECRET_SHOWN as SECRET_SHOWN
from .run_output import Printer, add_rule_hint, delete_hint
from .run_program import PROGRAM_TIMEOUT as PROGRAM_TIMEOUT
from .run_program import ProgramExitError as ProgramExitError
from .run_report import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    AfterStep,
    Refreshed,
    RunReport,
)
from .run_signals import TERMINATION_SIGNALS as TERMINATION_SIGNALS
from .run_signals import termination_as_interrupt
from .run_steps import Run
from .run_watch import RUNNER_VARIABLE as RUNNER_VARIABLE
from .run_watch import WAIT_NOTICE_AFTER as WAIT_NOTICE_AFTER
from .run_watch import WAIT_NOTICE_EVERY as WAIT_NOTICE_EVERY
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

DEFAULT_STACK: Final = "dev"

HEADER: Final = (
    "gcore_pulumi runner: the project's built-in engine driver, NOT the Pulumi CLI.\n"
    "No stack state is kept: everything created by this run is destroyed again at its end."
)

#: Config keys that are secrets however they are given (the provider's API key).
ALWAYS_SECRET: Final = frozenset({"gcore:apiKey"})


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
    pause_after_up: TextIO | None = None,
) -> RunReport:
    """Plan, up, refresh and destroy the Pulumi program in ``program_dir``; print each step.

    ``config`` (keys with or without namespace) overrides the stack's Pulumi.<stack>.yaml;
    the keys in ``secret_keys`` are secrets (never printed, sent to the provider as secrets).
    ``out`` defaults to sys.stdout; ``env`` is the provider process's environment (default:
    this one's; GCORE_PULUMI_RUNNER=1 is added). ``show_outputs`` lists each created
    resource's outputs too (secrets masked). ``pause_after_up``: after up, say how to change
    a created rule by hand and wait for a line on this stream (then ``after_step``). Call it
    from the main thread for Ctrl-C to be handled (destroy, then status 130). A ProjectError
    (nothing ran) is printed and gives status 2.
    """
    say = Printer(out or sys.stdout, [])
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
    say = Printer(out or sys.stdout, [merged[k] for k in secrets if k in merged])
    say(f"Project {project.name}, stack {stack}, program {project.program}")
    for key in sorted(merged):
        say(f"  config {key}: {SECRET_SHOWN if key in secrets else merged[key]}")
    steps = Run(project, stack, merged, secrets, say, env, after_step, show_outputs)
    if pause_after_up is not None:
        steps.after_step = _pause_after_up(steps, pause_after_up, after_step)
    return steps.run()


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
    "\nPaused after up (--pause-after-up): what is listed above exists now.\n"
    "Change it by hand now if you like, and the refresh will report it as drift."
)
PAUSE_RULE: Final = (
    "For example, delete the rule {name} (with GCORE_API_KEY set to the key):\n"
    "  {command}\n"
    'Refresh will then show it as "drift: gone". Gcore cannot edit a rule: one changed by\n'
    "hand (in the console or with curl) is a new rule, and the created one shows as gone."
)
PAUSE_SET: Final = (
    "For example, add a rule to the group {name}, which owns its rule set (with GCORE_API_KEY\n"
    "set to the key):\n"
    "  {command}\n"
    'Refresh will then show it as "drift: ... rules: 1 added, 0 removed", the rule on a line.'
)
PAUSE_ENTER: Final = "Press Enter to refresh and destroy (Ctrl-C destroys at once)."


def _set_owner(report: RunReport) -> MockedResource | None:
    """The first group created that owns its rule set (its ``rules`` input is a list)."""
    return next(
        (
            r
            for r in report.created
            if r.type_token.endswith(":SecurityGroup") and isinstance(r.inputs.get("rules"), list)
        ),
        None,
    )


def _pause_after_up(run: Run, stdin: TextIO, then: AfterStep | None) -> AfterStep:
    """After up: say how to make drift by hand (a ready command, with the real ids), then
    wait for a line on ``stdin``; then call ``then``, the caller's own hook, if any."""

    def pause(step: str, report: RunReport) -> None:
        if step == "up":
            run.say(PAUSE_TEXT)
            rule = next(
                (r for r in report.created if r.type_token.endswith(":SecurityGroupRule")), None
            )
            if rule is not None:
                command = delete_hint(rule, run.config, run.providers.child_env)
                run.say(PAUSE_RULE.format(name=rule.name, command=command))
            elif (group := _set_owner(report)) is not None:
                command = add_rule_hint(group, run.config, run.providers.child_env)
                run.say(PAUSE_SET.format(name=group.name, command=command))
            run.say(PAUSE_ENTER)
            if not stdin.readline():
                run.say("(standard input is closed: going on without waiting)")
        if then is not None:
            then(step, report)

    return pause


def _assignment(parser: argparse.ArgumentParser, option: str, text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        parser.error(f"{option} {text.split('=')[0]!r}: expected KEY=VALUE")
    return key.strip(), value


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
            pause_after_up=sys.stdin if args.pause_after_up else None,
            show_outputs=args.show_outputs,
        )
    return report.status


if __name__ == "__main__":
    sys.exit(main())
