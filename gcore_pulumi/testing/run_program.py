"""One pass of the Pulumi program, in this process, as the Python language host runs it.

The program's real ``__main__.py`` runs under ``pulumi.runtime.set_mocks`` with the stack
config set, its folder as the working directory and ``GCORE_PULUMI_RUNNER=1``
(:func:`as_the_language_host`); its own modules are unloaded afterwards, so the next pass
imports them afresh as the language host's fresh process would.
"""

from __future__ import annotations

import os
import runpy
import sys
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import pulumi
from pulumi.runtime import settings as pulumi_settings

from .mocks import ForwardingMocks, run_program
from .run_watch import RUNNER_VARIABLE, Registrations

__all__ = ["PROGRAM_TIMEOUT", "ProgramExitError", "as_the_language_host", "program_pass"]

PROGRAM_TIMEOUT: Final = 24 * 3600.0
"""run_program's overall limit: effectively none; every RPC has its own timeout."""


class ProgramExitError(Exception):
    """The program called ``sys.exit`` (at its top level or in a callback) before it finished:
    a failed pass, not a way out of the runner (whose status and destroy must still follow)."""

    def __init__(self, code: object) -> None:
        super().__init__(f"the program called sys.exit({code!r}) before it finished")
        self.code = code


def program_pass(
    mocks: ForwardingMocks,
    registrations: Registrations,
    program_dir: Path,
    project: str,
    stack: str,
    config: Mapping[str, str],
    secret_keys: Collection[str],
) -> Callable[[], Any]:
    """The program's pass under ``mocks``, to run in a thread: it returns the stack outputs
    (up only) as {name: (value, is_secret)}."""
    config, keys, preview = dict(config), sorted(secret_keys), mocks.preview

    def program() -> Any:
        pulumi.runtime.set_all_config(config, keys)
        registrations.install()
        runpy.run_path(str(program_dir), run_name="__main__")
        return None if preview else _stack_outputs()

    def one_pass() -> Any:
        try:
            return run_program(
                mocks, program, project=project, stack=stack, timeout=PROGRAM_TIMEOUT
            )
        except SystemExit as exc:  # BaseException: it would end the runner itself
            raise ProgramExitError(exc.code) from None

    return one_pass


@contextmanager
def as_the_language_host(program_dir: Path) -> Iterator[None]:
    """Meanwhile, the program's folder is the working directory and GCORE_PULUMI_RUNNER=1 (the
    program runs in this process); afterwards, the program's own modules are unloaded."""
    before = set(sys.modules)
    cwd = os.getcwd()
    previous = os.environ.get(RUNNER_VARIABLE)
    os.environ[RUNNER_VARIABLE] = "1"
    os.chdir(program_dir)
    try:
        yield
    finally:
        os.chdir(cwd)
        if previous is None:
            os.environ.pop(RUNNER_VARIABLE, None)
        else:
            os.environ[RUNNER_VARIABLE] = previous
        _forget_modules(before, program_dir)


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
