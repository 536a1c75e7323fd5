"""Run the Gcore API emulator as a standalone server.

``python -m gcore_pulumi.testing --port 8080 --group web --group db``

Prints exactly one line of JSON to stdout once the server accepts connections::

    {"base_url": "http://127.0.0.1:8080", "groups": {"web": "<uuid>", "db": "<uuid>"},
     "project_id": 1, "region_id": 1}

and serves until SIGTERM or SIGINT, then exits 0. The API key comes from ``--api-key``, else
the ``GCORE_API_KEY`` environment variable, else ``test-api-key``; it is never printed.
Faults come from ``--fault`` (repeatable) and from ``GCORE_EMULATOR_FAULTS`` (specs separated
by ``;``); the seed from ``--seed`` or ``GCORE_EMULATOR_SEED``. ``--task-delay`` sets how long
asynchronous (v2) tasks take, ``--duplicate-mode`` how a duplicate v2 rule is refused.
``--log FILE`` (``-`` for stderr) appends one line per request received, as it is answered:
``METHOD PATH STATUS`` (the path with its query; STATUS ``-`` when the connection was dropped
unanswered; `` fault=KIND`` appended when a fault was injected). The API key is never written.

``python -m gcore_pulumi.testing run PROGRAM_DIR [options]`` is another command: it runs a
Pulumi program without the Pulumi CLI (see :mod:`gcore_pulumi.testing.runner`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TextIO

from gcore_pulumi.testing.emulator import GcoreEmulator, RequestRecord
from gcore_pulumi.testing.faults import ALL_FAULT_KINDS, parse_fault_spec
from gcore_pulumi.testing.service import DUPLICATE_MODES


def _fault_spec(text: str) -> str:
    try:
        parse_fault_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (value >= 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line parser (separate so it can be tested and documented)."""
    parser = argparse.ArgumentParser(
        prog="python -m gcore_pulumi.testing",
        description="Serve a local emulator of the Gcore Cloud API for security group rules.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parser.add_argument(
        "--api-key",
        default=None,
        help="accepted API key (default: $GCORE_API_KEY, else test-api-key)",
    )
    parser.add_argument(
        "--group",
        action="append",
        default=None,
        metavar="NAME",
        help="create a security group with this name (repeatable; default: one named 'default')",
    )
    parser.add_argument("--project-id", type=int, default=1)
    parser.add_argument("--region-id", type=int, default=1)
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        type=_fault_spec,
        metavar="KIND[:METHOD[:PROBABILITY[:PARAM]]]",
        help="inject a fault (repeatable); KIND is one of "
        + ", ".join(ALL_FAULT_KINDS)
        + "; METHOD may be '*'; PARAM is Retry-After for 429, the delay in seconds for slow, "
        "the status (301, 302, 303, 307, 308) for redirect",
    )
    parser.add_argument(
        "--task-delay",
        type=_seconds,
        default=0.05,
        metavar="SECONDS",
        help="how long an asynchronous task takes to finish (default: %(default)s)",
    )
    parser.add_argument(
        "--duplicate-mode",
        choices=DUPLICATE_MODES,
        default="409",
        help="how a duplicate v2 rule create is refused: 409 at once, or a task that ends "
        "in ERROR (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for faults and ids")
    parser.add_argument(
        "--log",
        metavar="FILE",
        default=None,
        help="write one line per request received (METHOD PATH STATUS) to FILE, '-' for "
        "stderr; the API key is never written",
    )
    return parser


def log_line(record: RequestRecord) -> str:
    """The ``--log`` line of one request: ``METHOD PATH STATUS[ fault=KIND]``."""
    status = "-" if record.status is None else str(record.status)
    fault = "" if record.fault is None else f" fault={record.fault}"
    return f"{record.method} {record.path} {status}{fault}\n"


def _open_log(parser: argparse.ArgumentParser, name: str) -> TextIO:
    if name == "-":
        return sys.stderr
    try:
        return open(name, "a", encoding="utf-8", buffering=1)  # closed by main()
    except OSError as exc:
        parser.error(f"--log {name}: cannot open it for writing ({exc.strerror})")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, start the emulator, print its JSON line, serve until signalled.

    A first argument ``run`` runs a Pulumi program instead (``runner.main``).
    """
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["run"]:
        from gcore_pulumi.testing.runner import main as run_main  # imports the Pulumi SDK

        return run_main(arguments[1:])
    parser = build_parser()
    args = parser.parse_args(arguments)
    api_key: str = args.api_key or os.environ.get("GCORE_API_KEY") or "test-api-key"
    seed: int | None = args.seed
    if seed is None and os.environ.get("GCORE_EMULATOR_SEED"):
        try:
            seed = int(os.environ["GCORE_EMULATOR_SEED"])
        except ValueError:
            parser.error("GCORE_EMULATOR_SEED must be an integer")
    specs = [s for s in os.environ.get("GCORE_EMULATOR_FAULTS", "").split(";") if s.strip()]
    specs += args.fault

    emulator = GcoreEmulator(
        api_key=api_key,
        host=args.host,
        port=args.port,
        seed=seed,
        task_delay=args.task_delay,
        duplicate_mode=args.duplicate_mode,
    )
    for spec in specs:
        try:
            emulator.faults.add_spec(spec)
        except ValueError as exc:
            parser.error(str(exc))

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    log = None if args.log is None else _open_log(parser, args.log)
    if log is not None:
        stream = log

        def write_line(record: RequestRecord) -> None:
            stream.write(log_line(record))

        emulator.on_request(write_line)

    names: list[str] = args.group if args.group else ["default"]
    groups = {name: emulator.create_group(args.project_id, args.region_id, name) for name in names}
    emulator.start()
    try:
        line = {
            "base_url": emulator.base_url,
            "groups": groups,
            "project_id": args.project_id,
            "region_id": args.region_id,
        }
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()
        while not stop.wait(0.2):
            pass
    finally:
        emulator.stop()
        if log is not None and log is not sys.stderr:
            log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
