"""``python -m gcore_pulumi COMMAND ...``: the package's commands.

    python -m gcore_pulumi new DIR [--name NAME]   make a starter project in DIR
    python -m gcore_pulumi import-group GROUP_ID   print a program that adopts a live group

Each command lives in a module of its own, imported only when it runs (this dispatcher imports
nothing else): add one by adding a line to COMMANDS.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Final

PROG: Final = "python -m gcore_pulumi"

#: name -> (module with a ``main(argv) -> int``, one line of help)
COMMANDS: Final[dict[str, tuple[str, str]]] = {
    "new": ("gcore_pulumi.starter", "make a starter project (a group and its rules) in DIR"),
    "import-group": (
        "gcore_pulumi.importer",
        "print a program that adopts a live group (adopt_id) with its rules as they are",
    ),
}


def usage() -> str:
    lines = [f"usage: {PROG} COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<14}{text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", f"{PROG} COMMAND --help says more about each."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"{PROG}: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    code: int = module.main(rest)
    return code


if __name__ == "__main__":
    sys.exit(main())
