"""Run the Gcore API emulator as a standalone server.

``python -m gcore_pulumi.testing --port 8080 --group web --group db``

Prints exactly one line of JSON to stdout once the server accepts connections::

    {"base_url": "http://127.0.0.1:8080", "groups": {"web": "<uuid>", "db": "<uuid>"},
     "project_id": 1, "region_id": 1}

and serves until SIGTERM or SIGINT, then exits 0.

The accepted API key comes from ``--api-key``, else the ``GCORE_EMULATOR_API_KEY`` environment
variable, else is ``test-api-key``; ``GCORE_API_KEY`` (a real Gcore key, often exported) is
never used. On start, stderr says which key is accepted: its value when it is the default or
came from ``--api-key``, only the variable's name when it came from
``GCORE_EMULATOR_API_KEY``; and, when ``GCORE_API_KEY`` is set to something else, that the
emulator ignores it (its value is never printed).

Faults come from ``--fault`` (repeatable) and from ``GCORE_EMULATOR_FAULTS`` (specs separated
by ``;``); a spec that would never do anything is refused. The seed comes from ``--seed`` or
``GCORE_EMULATOR_SEED``. ``--task-delay`` sets how long asynchronous (v2) tasks take,
``--duplicate-mode`` how a duplicate v2 rule is refused.

Exit status: 0 after SIGTERM or SIGINT, 1 when it cannot listen on ``--host``/``--port``
(one line on stderr: a busy port, an address that is not this machine's), 2 when the command
line or an environment variable is wrong.

``--log FILE`` (``-`` for stderr) appends one line per request received, as it is answered:
``METHOD PATH STATUS`` (the path with its query; STATUS ``-`` when the connection was dropped
unanswered; `` fault=KIND`` appended when a fault was injected). The API key is never written.

``python -m gcore_pulumi.testing run PROGRAM_DIR [options]`` is another command: it runs a
Pulumi program without the Pulumi CLI (see :mod:`gcore_pulumi.testing.runner`).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import TextIO

from gcore_pulumi.testing.emulator import GcoreEmulator, RequestRecord
from gcore_pulumi.testing.faults import ALL_FAULT_KINDS, FAULT_METHODS, parse_fault_spec
from gcore_pulumi.testing.service import DUPLICATE_MODES

PROG = "python -m gcore_pulumi.testing"
DEFAULT_API_KEY = "test-api-key"
#: Where a caller that keeps the key off the command line puts it.
API_KEY_VARIABLE = "GCORE_EMULATOR_API_KEY"
#: Where the provider (and Gcore users) keep a real key: never the emulator's.
PROVIDER_KEY_VARIABLE = "GCORE_API_KEY"
FAULTS_VARIABLE = "GCORE_EMULATOR_FAULTS"


def _fault_spec(text: str) -> str:
    try:
        parse_fault_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _api_key(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 0-65535, got {text!r}")
    return value


def _host(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty; use 127.0.0.1 for this machine")
    return text.strip()


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
        description="Serve a local emulator of the Gcore Cloud API for security group rules. "
        "It speaks plain http (no TLS): point gcore:baseUrl at the http:// base_url it prints.",
        epilog=f"environment: {API_KEY_VARIABLE} (the key, if no --api-key), {FAULTS_VARIABLE} "
        "(fault specs separated by ';'), GCORE_EMULATOR_SEED; "
        f"{PROVIDER_KEY_VARIABLE} is never used. Exit status: 0 when stopped by SIGTERM or "
        "SIGINT, 1 when it cannot listen on --host/--port, 2 for a bad command line. "
        f"Another command: {PROG} run PROGRAM_DIR [--config KEY=VALUE ...] runs a Pulumi "
        f"program without the Pulumi CLI (see {PROG} run --help).",
    )
    _add_listen_options(parser)
    _add_cloud_options(parser)
    _add_behaviour_options(parser)
    _add_log_option(parser)
    return parser


def _add_listen_options(parser: argparse.ArgumentParser) -> None:
    """Where the emulator listens and which key it accepts."""
    parser.add_argument(
        "--host", type=_host, default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=_port, default=0, help="port to bind; 0 picks a free one (the default)"
    )
    parser.add_argument(
        "--api-key",
        type=_api_key,
        default=None,
        help=f"the API key to accept (default: ${API_KEY_VARIABLE}, else {DEFAULT_API_KEY}; "
        f"${PROVIDER_KEY_VARIABLE} is never used)",
    )


def _add_cloud_options(parser: argparse.ArgumentParser) -> None:
    """The groups it starts with, and their project and region."""
    parser.add_argument(
        "--group",
        action="append",
        default=None,
        metavar="NAME",
        help="create a security group with this name (repeatable; default: one named 'default')",
    )
    parser.add_argument(
        "--project-id", type=int, default=1, help="project of the groups (default: %(default)s)"
    )
    parser.add_argument(
        "--region-id", type=int, default=1, help="region of the groups (default: %(default)s)"
    )


def _add_behaviour_options(parser: argparse.ArgumentParser) -> None:
    """How it behaves: faults, task pace, latency, duplicates, seed."""
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        type=_fault_spec,
        metavar="KIND[:METHOD[:PROBABILITY[:PARAM]]]",
        help="inject a fault (repeatable); KIND is one of "
        + ", ".join(ALL_FAULT_KINDS)
        + "; METHOD is "
        + ", ".join(FAULT_METHODS)
        + " (any case) or * for any (the default); PROBABILITY is more than 0 and at most 1 "
        "(default 1); PARAM is the Retry-After of 429 (whole seconds, an HTTP date or none; "
        "default 1), the delay in seconds of slow (required), the status of redirect (301, "
        "302, 303, 307 or 308; default 308); no other kind takes one. A spec that would never "
        "do anything is refused",
    )
    parser.add_argument(
        "--task-delay",
        type=_seconds,
        default=0.05,
        metavar="SECONDS",
        help="how long an asynchronous task takes to finish, e.g. 0.3 for Gcore's pace "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--latency",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="delay added to every request before it is answered, for a realistic distance "
        "to Gcore in benchmarks, e.g. 0.03 (default: %(default)s)",
    )
    parser.add_argument(
        "--duplicate-mode",
        choices=DUPLICATE_MODES,
        default="409",
        help="how a duplicate v2 rule create is refused: 409 at once, or a task that ends "
        "in ERROR (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for faults and ids")


def _add_log_option(parser: argparse.ArgumentParser) -> None:
    """The request log."""
    parser.add_argument(
        "--log",
        metavar="FILE",
        default=None,
        help="write one line per request received (METHOD PATH STATUS) to FILE, '-' for "
        "stderr; the API key is never written",
    )


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
    api_key, key_lines = _accepted_key(args.api_key, os.environ)
    seed = _seed(parser, args.seed, os.environ)
    specs = _fault_specs(parser, args.fault, os.environ)
    emulator = GcoreEmulator(
        api_key=api_key,
        host=args.host,
        port=args.port,
        seed=seed,
        task_delay=args.task_delay,
        duplicate_mode=args.duplicate_mode,
        latency=args.latency,
    )
    for spec in specs:
        try:
            emulator.faults.add_spec(spec)
        except ValueError as exc:
            parser.error(str(exc))
    stop = _stop_on_signals()
    log = None if args.log is None else _open_log(parser, args.log)
    if log is not None:
        _log_requests(emulator, log)
    names: list[str] = args.group if args.group else ["default"]
    groups = {name: emulator.create_group(args.project_id, args.region_id, name) for name in names}
    try:
        emulator.start()
    except OSError as exc:
        sys.stderr.write(f"{PROG}: {_listen_error(exc, args.host, args.port)}\n")
        return 1
    for key_line in key_lines:
        sys.stderr.write(f"{PROG}: {key_line}\n")
    sys.stderr.flush()
    _serve(emulator, args, groups, stop, log)
    return 0


def _seed(
    parser: argparse.ArgumentParser, option: int | None, environ: Mapping[str, str]
) -> int | None:
    """``--seed``, else ``GCORE_EMULATOR_SEED`` (a usage error unless an integer), else None."""
    seed = option
    if seed is None and environ.get("GCORE_EMULATOR_SEED"):
        try:
            seed = int(environ["GCORE_EMULATOR_SEED"])
        except ValueError:
            parser.error("GCORE_EMULATOR_SEED must be an integer")
    return seed


def _fault_specs(
    parser: argparse.ArgumentParser, options: list[str], environ: Mapping[str, str]
) -> list[str]:
    """The fault specs of ``GCORE_EMULATOR_FAULTS`` (each checked), then those of ``--fault``."""
    specs = [s for s in environ.get(FAULTS_VARIABLE, "").split(";") if s.strip()]
    for spec in specs:
        try:
            parse_fault_spec(spec)
        except ValueError as exc:
            parser.error(f"{FAULTS_VARIABLE}: {exc}")
    return specs + options


def _stop_on_signals() -> threading.Event:
    """An event that SIGTERM and SIGINT set."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop


def _log_requests(emulator: GcoreEmulator, stream: TextIO) -> None:
    """Write the ``--log`` line of every request to ``stream``."""

    def write_line(record: RequestRecord) -> None:
        stream.write(log_line(record))

    emulator.on_request(write_line)


def _serve(
    emulator: GcoreEmulator,
    args: argparse.Namespace,
    groups: dict[str, str],
    stop: threading.Event,
    log: TextIO | None,
) -> None:
    """Print the JSON line, serve until ``stop`` is set, then stop and close the log."""
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


def _accepted_key(option: str | None, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """The key the emulator accepts, and the stderr lines that say so.

    A value is printed only when it is already on the command line or is the default; a
    key from the environment is named by its variable only.
    """
    if option is not None:
        key, lines = option, [f"accepting API key {option} (from --api-key)"]
    elif environ.get(API_KEY_VARIABLE):
        key = environ[API_KEY_VARIABLE]
        lines = [f"accepting the API key in {API_KEY_VARIABLE} (its value is not printed)"]
    else:
        key = DEFAULT_API_KEY
        lines = [
            f"accepting API key {DEFAULT_API_KEY} (the default; --api-key or "
            f"{API_KEY_VARIABLE} sets another)"
        ]
    provider_key = environ.get(PROVIDER_KEY_VARIABLE)
    if provider_key and provider_key != key:
        lines.append(
            f"note: {PROVIDER_KEY_VARIABLE} is set in this shell and is NOT used by the "
            "emulator; a provider run in this shell sends it (and gets 401) unless "
            "gcore:apiKey is set in the stack config"
        )
    return key, lines


def _listen_error(error: OSError, host: str, port: int) -> str:
    """One line saying why the emulator cannot listen on ``host``:``port``, and what to do."""
    if isinstance(error, socket.gaierror):
        return (
            f"cannot use --host {host}: not an IP address or a name this machine resolves "
            f"({error.strerror}); use 127.0.0.1, ::1 or another address of this machine"
        )
    if error.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is already in use; pick another --port or 0 for a free one"
    if error.errno == errno.EADDRNOTAVAIL:
        return (
            f"cannot use --host {host}: not an address of this machine; use 127.0.0.1, ::1 "
            "or one of its own addresses"
        )
    if error.errno == errno.EACCES:
        return (
            f"not allowed to listen on port {port} on {host} (ports below 1024 usually need "
            "privileges); pick another --port or 0 for a free one"
        )
    reason = error.strerror or str(error)
    return f"cannot listen on --host {host} --port {port} ({reason}); check both"


if __name__ == "__main__":
    sys.exit(main())
