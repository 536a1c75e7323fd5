"""``python -m gcore_pulumi COMMAND``: ``import-group`` (see importer.py).

Minimal dispatch; each command's logic lives in its own module.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

USAGE = "usage: python -m gcore_pulumi import-group <group-id> [options]  (--help for more)"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named by the first argument."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["import-group"]:
        from .importer import main as import_group

        return import_group(arguments[1:])
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
