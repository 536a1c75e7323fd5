"""Hints that fit where they run: under the Pulumi CLI they name its commands, under the
project's program runner (``python -m gcore_pulumi.testing run``) its options.

The runner sets ``GCORE_PULUMI_RUNNER=1`` for the provider process and the program. Pure
text, no I/O beyond reading that variable, so check and diff may use it.
"""

from __future__ import annotations

import os
from typing import Final

RUNNER_ENV: Final = "GCORE_PULUMI_RUNNER"
"""Set to ``1`` by the program runner for the provider process and the program."""


def under_runner() -> bool:
    """True when the program runner (not the Pulumi CLI) drives this process."""
    return os.environ.get(RUNNER_ENV, "").strip() == "1"


def set_config(key: str, value: str = "<value>", *, secret: bool = False) -> str:
    """How to set one stack config value here, as a quoted command or option."""
    if under_runner():
        return f"`--secret {key}`" if secret else f"`--config {key}={value}`"
    return f"`pulumi config set {'--secret ' if secret else ''}{key} {value}`"


def remove_config(key: str) -> str:
    """How to drop a stack config key here."""
    if under_runner():
        return f"drop {key} from the --config/--secret options and Pulumi.<stack>.yaml"
    return f"`pulumi config rm {key}`"


def fitting(cli: str, runner: str) -> str:
    """``cli`` under the Pulumi CLI, ``runner`` under the program runner."""
    return runner if under_runner() else cli


def next_up() -> str:
    """The next run that creates what the program declares."""
    return fitting("the next `pulumi up`", "the next run of the program")


def up_again() -> str:
    """Running the program's deployment again."""
    return fitting("run `pulumi up` again", "run the program again")


def refresh() -> str:
    """What reads every resource back from Gcore."""
    return fitting("`pulumi refresh`", "a refresh (the runner's Refresh step)")


def curl(url: str, method: str = "GET") -> str:
    """A quoted curl command for ``url``; the API key is read from $GCORE_API_KEY, never
    written out."""
    verb = "" if method == "GET" else f"-X {method} "
    return f"`curl {verb}-H \"Authorization: APIKey $GCORE_API_KEY\" '{url}'`"
