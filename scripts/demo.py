"""The demo behind ``scripts/demo``: run the examples/basic program with the Pulumi CLI, or,
where there is no Pulumi CLI, with the project's built-in engine driver.

By default everything is local and throwaway: the Gcore API emulator
(``python -m gcore_pulumi.testing``) runs as a subprocess, the stack lives in a file backend
in a temporary directory with a random passphrase, and the API key is a random one that only
the emulator knows. The demo runs, from the repository root (whose Pulumi.yaml has
``main: examples/basic``)::

    pulumi stack init demo
    pulumi config set ...            # gcore:baseUrl, gcore:apiKey (secret), ids
    pulumi up --yes
    pulumi stack output
    (the rules the API now holds)
    pulumi destroy --yes
    pulumi stack rm --yes

Real Gcore is used only when asked for explicitly, never because GCORE_API_KEY happens to be
set::

    scripts/demo --real --group <security group uuid> [--project-id N --region-id N]

with the key taken from GCORE_API_KEY. The rules are created in that group and deleted again
at the end. The API key is never printed.

Without ``pulumi`` on PATH the demo says so first, then runs the same program with the same
stack config through the project's built-in engine driver (``gcore_pulumi.testing.runner``,
also ``python -m gcore_pulumi.testing run``): plan, create, the rules the API holds, refresh,
destroy, and the rules again. That driver is not the Pulumi CLI and keeps no stack state.
``--emulator-log FILE`` writes the emulator's request log (one line per request) to FILE.

The CLI must be 3.139 or newer (older ones do not pass stack config to dynamic providers);
that is checked with ``pulumi version`` before anything starts. Every pulumi call gets
``PULUMI_PYTHON_CMD`` set to the interpreter running this script (the project's .venv), so the
program and the provider run it whatever the caller's shell says.

Ctrl-C while pulumi runs lets pulumi cancel cleanly: the demo waits for it (forwarding the
signal when pulumi did not get it from the terminal), then destroys the stack, removes it and
exits 130. pulumi is never killed.

Exit status: 0 done, 1 a step failed, 2 usage error or an unusable Pulumi CLI (older than 3.139),
130 interrupted (after cleaning up: destroying what was created).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

REPO = Path(__file__).resolve().parent.parent
STACK = "demo"
GROUP_NAME = "web"
DEFAULT_BASE_URL = "https://api.gcore.com"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# The first CLI that passes stack config (gcore:apiKey, ...) to dynamic providers; with an
# older one `pulumi up` fails with "no API key" although the key is set.
MIN_CLI_VERSION = (3, 139, 0)
MIN_CLI_TEXT = "3.139"

INSTALL_URL = "https://www.pulumi.com/docs/iac/download-install/"
INSTALL_COMMAND = "curl -fsSL https://get.pulumi.com | sh"
NO_CLI_NOTICE = f"""\
scripts/demo: the Pulumi CLI (`pulumi`) was not found on PATH.
This run uses the project's built-in engine driver instead (python -m gcore_pulumi.testing run):
the same program and provider, but it is NOT the Pulumi CLI and keeps no stack state
(everything it creates is deleted again at the end).
For the real thing, install the Pulumi CLI: see {INSTALL_URL}
or, on Linux and macOS:

    {INSTALL_COMMAND}

then put it on PATH (the installer uses ~/.pulumi/bin) and run scripts/demo again."""


class DemoError(Exception):
    """A step failed; the message says which."""


@dataclass(frozen=True)
class Target:
    """Where the demo's rules go, and how to reach it."""

    base_url: str
    api_key: str
    project_id: int
    region_id: int
    group_id: str
    real: bool


def say(text: str = "") -> None:
    _print(text, sys.stdout)


def warn(text: str) -> None:
    _print(text, sys.stderr)


def _print(text: str, stream: TextIO) -> None:
    """Print, or stop printing to a reader that went away (`scripts/demo | head`): the demo
    must go on to delete what it created."""
    try:
        print(text, file=stream, flush=True)
    except (OSError, ValueError):
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)


# --- the emulator subprocess -----------------------------------------------------------


class EmulatorProcess:
    """``python -m gcore_pulumi.testing`` as a child process, stopped by :meth:`stop`.

    ``log``: a file for the emulator's request log (``--log``). ``new_session``: start it in a
    session of its own, so that a Ctrl-C at the terminal does not stop it before the rules
    are deleted.
    """

    def __init__(
        self,
        api_key: str,
        groups: Sequence[str],
        *,
        log: str | None = None,
        new_session: bool = False,
    ) -> None:
        self._api_key = api_key
        self._groups = list(groups)
        self._log = log
        self._new_session = new_session
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self, timeout: float = 30.0) -> dict[str, Any]:
        """Start it and return its JSON line (base_url, groups, project_id, region_id)."""
        # The key reaches the emulator through its environment, not its command line, and
        # no other GCORE_* variable leaks in from the caller's shell.
        env = {k: v for k, v in os.environ.items() if not k.startswith("GCORE_")}
        env["GCORE_EMULATOR_API_KEY"] = self._api_key
        command = [sys.executable, "-m", "gcore_pulumi.testing", "--port", "0"]
        command += ["--host", "127.0.0.1"]
        for name in self._groups:
            command += ["--group", name]
        if self._log is not None:
            command += ["--log", self._log]
        self._proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            env=env,
            cwd=REPO,
            start_new_session=self._new_session,
        )
        line = self._read_line(timeout)
        try:
            info = json.loads(line)
        except ValueError:
            raise DemoError(f"the emulator printed {line!r}, not its JSON line") from None
        if not isinstance(info, dict) or "base_url" not in info or "groups" not in info:
            raise DemoError(f"the emulator printed {line!r}, not its JSON line")
        return info

    def _read_line(self, timeout: float) -> str:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        data = b""
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DemoError(f"the emulator did not report its address within {timeout:g}s")
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                code = proc.wait()
                raise DemoError(f"the emulator exited with status {code} before it started")
            data += chunk
        return data.split(b"\n", 1)[0].decode("utf-8", "replace")

    def stop(self) -> None:
        """SIGTERM, wait, SIGKILL if need be; close the pipe. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        finally:
            if proc.stdout is not None:
                proc.stdout.close()


# --- talking to the API directly (to show what the program did) -----------------------


def fetch_rules(target: Target) -> list[dict[str, Any]]:
    """The group's rules, read straight from the API (emulator or Gcore)."""
    url = (
        f"{target.base_url}/cloud/v1/securitygroups/"
        f"{target.project_id}/{target.region_id}/{target.group_id}"
    )
    request = urllib.request.Request(url, headers={"Authorization": f"APIKey {target.api_key}"})
    # No proxy for the loopback emulator, whatever the environment says.
    handlers = [] if target.real else [urllib.request.ProxyHandler({})]
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(request, timeout=30) as response:
            group = json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DemoError(f"could not read security group {target.group_id}: {exc}") from None
    rules = group.get("security_group_rules") if isinstance(group, dict) else None
    return [r for r in rules or [] if isinstance(r, dict)]


def show_rules(target: Target) -> None:
    rules = fetch_rules(target)
    where = "Gcore" if target.real else "the emulator"
    say(f"{len(rules)} rule(s) in security group {target.group_id} at {where}:")
    header = ("direction", "ethertype", "protocol", "ports", "remote", "description")
    rows = [header]
    for rule in sorted(rules, key=lambda r: (str(r.get("protocol")), str(r.get("ethertype")))):
        low, high = rule.get("port_range_min"), rule.get("port_range_max")
        ports = "" if low is None else (str(low) if high in (None, low) else f"{low}-{high}")
        remote = rule.get("remote_ip_prefix") or rule.get("remote_group_id") or "any"
        rows.append(
            (
                str(rule.get("direction")),
                str(rule.get("ethertype") or "-"),
                str(rule.get("protocol") or "any"),
                ports,
                str(remote),
                str(rule.get("description") or ""),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        say(
            "  "
            + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


# --- the Pulumi CLI --------------------------------------------------------------------


def venv_env(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` with this interpreter's virtualenv activated and named to the CLI.

    The root Pulumi.yaml has no ``virtualenv:`` option (see the comment there), so the
    program and the ``python -m pulumi.dynamic`` provider both run the CLI's Python command:
    ``PULUMI_PYTHON_CMD`` when set (it wins over PATH, so a value in the caller's shell would
    pick another interpreter), else ``python3`` from PATH. Set both to the venv running this
    script, so both processes get gcore_pulumi.
    """
    env = dict(base)
    bin_dir = str(Path(sys.executable).parent)
    if sys.prefix != sys.base_prefix:
        env["VIRTUAL_ENV"] = sys.prefix
    env.pop("PYTHONHOME", None)
    env["PATH"] = os.pathsep.join(
        [bin_dir, *[p for p in env.get("PATH", "").split(os.pathsep) if p]]
    )
    env["PULUMI_PYTHON_CMD"] = sys.executable
    return env


class Interrupted(DemoError):
    """Ctrl-C (SIGINT), SIGTERM or SIGHUP arrived: no further step starts; cleanup still runs."""


def terminal_sent_it(signum: int, pid: int) -> bool:
    """Whether process ``pid`` got this signal itself from the terminal.

    Ctrl-C makes the kernel send SIGINT to the terminal's whole foreground process group.
    If that group is ours and ``pid`` is in it, pulumi already has the signal, and passing it
    on would be a second Ctrl-C, which makes pulumi stop at once instead of cancelling.
    """
    if signum != signal.SIGINT:
        return False
    try:
        group = os.getpgrp()
        if os.getpgid(pid) != group:
            return False
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
        try:
            return os.tcgetpgrp(fd) == group
        finally:
            os.close(fd)
    except OSError:  # no controlling terminal, or pulumi is gone
        return False


class Interrupts:
    """SIGINT, SIGTERM and SIGHUP while the demo drives the CLI (a context manager).

    pulumi cancels cleanly on its first SIGINT if it is given time, and stops at once on a
    second; a killed pulumi leaves the stack locked and may orphan the provider process. So
    a signal never kills the demo or pulumi here: it is recorded, passed on to a running pulumi
    as SIGINT unless the terminal already delivered it, and the demo waits for pulumi to exit.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.child: subprocess.Popen[str] | None = None
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> Interrupts:
        # SIGHUP too: outside this block it acts as a Ctrl-C (see __main__), and inside it
        # must not raise in the middle of a pulumi step (pulumi would run on unsignalled
        # while the cleanup's destroy starts beside it).
        signums = [signal.SIGINT, signal.SIGTERM]
        if hasattr(signal, "SIGHUP"):
            signums.append(signal.SIGHUP)
        for signum in signums:
            self._saved[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)
        self._saved.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
        child = self.child
        running = child is not None and child.returncode is None
        passed_on = False
        if child is not None and running and not terminal_sent_it(signum, child.pid):
            child.send_signal(signal.SIGINT)
            passed_on = True
        name = signal.Signals(signum).name
        how = "passed on to pulumi as SIGINT" if passed_on else "pulumi got it from the terminal"
        if not running:
            note = f"{name} received; stopping after this step, then cleaning up"
        elif first:
            note = (
                f"{name} received ({how}); waiting for pulumi to finish cancelling (do not "
                "kill it: that leaves the stack locked), then cleaning up"
            )
        else:
            note = f"{name} received again ({how}); pulumi now stops at once"
        # os.write, not print: a handler may run in the middle of a print to the same stream.
        # A reader that went away (`2>&1 | head`) must not make the handler raise: that would
        # come out of the pulumi step as an error instead of an interrupt.
        with contextlib.suppress(OSError, ValueError):
            os.write(sys.stderr.fileno(), f"scripts/demo: {note}\n".encode())


class Pulumi:
    """Runs the CLI in the repository root with the demo's environment, echoing commands."""

    def __init__(
        self, executable: str, env: Mapping[str, str], interrupts: Interrupts | None = None
    ) -> None:
        self.executable = executable
        self.env = dict(env)
        self.interrupts = interrupts if interrupts is not None else Interrupts()

    @property
    def interrupted(self) -> bool:
        return self.interrupts.signum is not None

    def run(self, *args: str, stdin: str | None = None, shown: str | None = None) -> int:
        """Run ``pulumi args`` and wait for it to exit, however long a cancel takes;
        ``stdin`` feeds a value (secrets), ``shown`` replaces it in the echoed command."""
        say(f"$ pulumi {' '.join(args)}{' ' + shown if shown else ''}")
        with subprocess.Popen(
            [self.executable, *args],
            cwd=REPO,
            env=self.env,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            text=True,
        ) as proc:
            self.interrupts.child = proc
            try:
                if stdin is not None:
                    proc.communicate(stdin)
                return proc.wait()
            finally:
                self.interrupts.child = None

    def step(self, *args: str, stdin: str | None = None, shown: str | None = None) -> None:
        if self.interrupted:
            raise Interrupted(f"interrupted before `pulumi {' '.join(args)}`")
        code = self.run(*args, stdin=stdin, shown=shown)
        if self.interrupted:
            raise Interrupted(f"`pulumi {' '.join(args)}` was interrupted (status {code})")
        if code != 0:
            raise DemoError(f"`pulumi {' '.join(args)}` failed with status {code}")


def pulumi_env(target: Target, state_dir: Path, passphrase: str) -> dict[str, str]:
    """The CLI's environment: throwaway local backend and passphrase, the venv activated."""
    base = dict(os.environ)
    if not target.real:
        # Emulator runs never see the caller's Gcore settings (a real key in particular).
        base = {k: v for k, v in base.items() if not k.startswith("GCORE_")}
        existing = base.get("NO_PROXY") or base.get("no_proxy")
        no_proxy = ",".join(filter(None, [existing, "127.0.0.1", "localhost"]))
        base["NO_PROXY"] = base["no_proxy"] = no_proxy
    for key in ("PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE_FILE"):
        base.pop(key, None)
    base["PULUMI_BACKEND_URL"] = state_dir.as_uri()
    base["PULUMI_CONFIG_PASSPHRASE"] = passphrase
    base["PULUMI_SKIP_UPDATE_CHECK"] = "true"
    return venv_env(base)


def run_stack(pulumi: Pulumi, target: Target, ssh_cidr: str | None, state_dir: Path) -> int:
    """init, config, up, output, show, and always destroy + rm. Returns the exit status."""
    config_file = REPO / f"Pulumi.{STACK}.yaml"
    stack = ("--stack", STACK)
    created = False
    status = EXIT_OK
    keep_state = False
    try:
        say(f"== Stack {STACK!r} in a throwaway local backend ({state_dir})")
        pulumi.step("stack", "init", STACK)
        created = True
        pulumi.step("config", "set", *stack, "gcore:baseUrl", target.base_url)
        if not target.real:
            # Through stdin, so the key is not on any command line; shown as a placeholder.
            pulumi.step(
                "config",
                "set",
                *stack,
                "--secret",
                "gcore:apiKey",
                stdin=target.api_key,
                shown="<key from stdin>",
            )
        pulumi.step("config", "set", *stack, "gcore:projectId", str(target.project_id))
        pulumi.step("config", "set", *stack, "gcore:regionId", str(target.region_id))
        pulumi.step("config", "set", *stack, "securityGroupId", target.group_id)
        if ssh_cidr:
            pulumi.step("config", "set", *stack, "sshCidr", ssh_cidr)
        say("\n== Create the rules")
        pulumi.step("up", "--yes", *stack)
        say("\n== Stack outputs")
        pulumi.step("stack", "output", *stack)
        say("\n== What the API holds now")
        show_rules(target)
        if pulumi.interrupted:
            raise Interrupted("interrupted while reading the rules")
    except Interrupted as exc:
        warn(f"scripts/demo: {exc}; cleaning up")
        status = EXIT_INTERRUPTED
    except DemoError as exc:
        warn(f"scripts/demo: {exc}")
        status = EXIT_FAILED
    finally:
        if created:
            say("\n== Clean up")
            if pulumi.run("destroy", "--yes", *stack) == 0:
                if pulumi.run("stack", "rm", "--yes", *stack) != 0:
                    status = EXIT_FAILED
            elif target.real:
                status = EXIT_FAILED
                keep_state = True
                keep_passphrase(pulumi, state_dir, config_file)
            else:
                # The emulator's rules go with it; the throwaway state is removed below.
                status = EXIT_FAILED
                pulumi.run("stack", "rm", "--yes", "--force", *stack)
        if pulumi.interrupted:
            status = EXIT_INTERRUPTED
        if not keep_state:
            shutil.rmtree(state_dir, ignore_errors=True)
            if created:
                config_file.unlink(missing_ok=True)
    if status == EXIT_OK:
        say("\nDemo finished: the rules were created, shown and deleted again.")
    return status


def retry_commands(pulumi: Pulumi, passphrase_file: Path, *verbs: str) -> list[str]:
    """Shell lines that run ``pulumi <verb> --yes --stack demo`` against the kept state.

    They must work from the user's shell: an exported PULUMI_CONFIG_PASSPHRASE would win over
    the passphrase file, so it is unset; PULUMI_PYTHON_CMD and PATH name this venv so the
    provider finds gcore_pulumi; every path is quoted (a temp dir may contain spaces).
    """
    env = pulumi.env
    settings = [
        ("PULUMI_BACKEND_URL", env["PULUMI_BACKEND_URL"]),
        ("PULUMI_CONFIG_PASSPHRASE_FILE", str(passphrase_file)),
        ("PULUMI_PYTHON_CMD", env["PULUMI_PYTHON_CMD"]),
        ("PULUMI_SKIP_UPDATE_CHECK", "true"),
    ]
    if env.get("VIRTUAL_ENV"):
        settings.append(("VIRTUAL_ENV", env["VIRTUAL_ENV"]))
    prefix = " ".join(
        [
            "env -u PULUMI_CONFIG_PASSPHRASE",
            *(f"{key}={shlex.quote(value)}" for key, value in settings),
            f'PATH={shlex.quote(str(Path(sys.executable).parent))}:"$PATH"',
            "pulumi",
        ]
    )
    lines = [f"cd {shlex.quote(str(REPO))}"]
    lines += [f"{prefix} {verb} --yes --stack {STACK}" for verb in verbs]
    return lines


def keep_passphrase(pulumi: Pulumi, state_dir: Path, config_file: Path) -> None:
    """A real destroy failed: keep what is needed to retry it, and say how."""
    secret = state_dir / "passphrase"
    secret.write_text(pulumi.env["PULUMI_CONFIG_PASSPHRASE"] + "\n", encoding="utf-8")
    secret.chmod(0o600)
    # An interrupted update may have left the stack locked: `pulumi cancel` unlocks it.
    verbs = ("cancel", "destroy") if pulumi.interrupted else ("destroy",)
    first = "`pulumi cancel`, then `pulumi destroy`" if pulumi.interrupted else "`pulumi destroy`"
    commands = "\n".join(f"    {line}" for line in retry_commands(pulumi, secret, *verbs))
    warn(
        "scripts/demo: `pulumi destroy` failed, so rules may still exist at Gcore. The stack "
        f"state is kept in {state_dir} and its config in {REPO / config_file.name}; to retry, "
        f"run {first} with GCORE_API_KEY set, as below (any shell, any folder):\n{commands}\n"
        f"Once the destroy has succeeded, delete {state_dir} and {REPO / config_file.name} "
        "(scripts/demo does not start while that file exists)."
    )


# --- command line ----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scripts/demo",
        description=(
            "Run the examples/basic Pulumi program (pulumi up, show the rules, pulumi destroy) "
            "against a local Gcore API emulator, or against real Gcore with --real."
        ),
    )
    parser.add_argument(
        "--real",
        action="store_true",
        help="use the real Gcore API (key from GCORE_API_KEY, base URL from GCORE_BASE_URL "
        f"or {DEFAULT_BASE_URL}); needs --group",
    )
    parser.add_argument(
        "--group", metavar="UUID", help="with --real: the security group to add the rules to"
    )
    parser.add_argument(
        "--project-id", type=int, help="with --real: Gcore project id (else GCORE_CLOUD_PROJECT_ID)"
    )
    parser.add_argument(
        "--region-id", type=int, help="with --real: Gcore region id (else GCORE_CLOUD_REGION_ID)"
    )
    parser.add_argument(
        "--ssh-cidr", metavar="CIDR", help="network allowed to use SSH (default 203.0.113.0/24)"
    )
    parser.add_argument(
        "--emulator-log",
        metavar="FILE",
        help="append the emulator's request log (one line per request: METHOD PATH STATUS) "
        "to FILE; not with --real",
    )
    return parser


def real_target(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Target:
    """The --real settings, or a usage error saying what is missing."""
    if not args.group:
        parser.error(
            "--real needs --group <security group uuid>: the demo adds its rules to an "
            "existing group of yours (and deletes them again at the end)"
        )
    try:
        group_id = str(uuid.UUID(args.group))
    except ValueError:
        parser.error(f"--group {args.group!r} is not a security group id (a UUID)")
    api_key = os.environ.get("GCORE_API_KEY", "").strip()
    if not api_key:
        parser.error(
            "--real needs a Gcore API key in the GCORE_API_KEY environment variable "
            "(create one in the Gcore customer portal: Profile > API tokens)"
        )

    def id_from(value: int | None, env: str, flag: str) -> int:
        if value is None:
            raw = os.environ.get(env, "").strip()
            if not raw:
                parser.error(f"--real needs {flag} N or the {env} environment variable")
            try:
                value = int(raw)
            except ValueError:
                parser.error(f"{env}={raw!r} is not a whole number")
        if value < 1:
            parser.error(f"{flag} must be a positive number")
        return value

    base_url = (os.environ.get("GCORE_BASE_URL") or DEFAULT_BASE_URL).strip().rstrip("/")
    return Target(
        base_url=base_url,
        api_key=api_key,
        project_id=id_from(args.project_id, "GCORE_CLOUD_PROJECT_ID", "--project-id"),
        region_id=id_from(args.region_id, "GCORE_CLOUD_REGION_ID", "--region-id"),
        group_id=group_id,
        real=True,
    )


_CLI_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)([-+][0-9A-Za-z.+-]*)?")


def cli_version_line(text: str) -> str | None:
    """The line of what ``pulumi version`` printed that is the version: the first line that
    is one, so that a warning printed before it (a new version is available, a deprecated
    setting) does not hide it."""
    for line in text.splitlines():
        if _CLI_VERSION.fullmatch(line.strip()):
            return line.strip()
    return None


def parse_cli_version(text: str) -> tuple[int, int, int] | None:
    """``(3, 139, 0)`` from what ``pulumi version`` prints (``v3.139.0``, maybe with a
    ``-alpha.x`` or ``+dirty`` suffix, maybe after warning lines), or None if it printed no
    version."""
    line = cli_version_line(text)
    match = _CLI_VERSION.fullmatch(line) if line is not None else None
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3])


def cli_version_problem(path: str) -> str | None:
    """What is wrong with the CLI at ``path`` (``pulumi version``), or None if it will do.

    Pre-releases and dev builds count by their number (``v3.139.0-alpha.x`` passes)."""
    needed = f"the demo needs the Pulumi CLI {MIN_CLI_TEXT} or newer"
    install = f"`{INSTALL_COMMAND}` (or see {INSTALL_URL})"
    env = venv_env(os.environ)
    env["PULUMI_SKIP_UPDATE_CHECK"] = "true"
    try:
        done = subprocess.run(
            [path, "version"],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"could not run `{path} version` ({exc}); {needed}: install it with {install}"
    printed = done.stdout.strip()
    if done.returncode != 0:
        said = (done.stderr.strip() or printed).splitlines()[:1]
        detail = f": {said[0][:200]}" if said else ""
        return (
            f"`{path} version` failed with status {done.returncode}{detail}; {needed} as "
            f"`pulumi` on PATH: install it with {install}"
        )
    found = parse_cli_version(printed)
    if found is None:
        return (
            f"`{path} version` printed {printed[:200]!r}, not a version such as v3.139.0; "
            f"{needed} as `pulumi` on PATH: install it with {install}"
        )
    if found < MIN_CLI_VERSION:
        return (
            f"the Pulumi CLI at {path} is {cli_version_line(printed)}, but {needed} "
            "(older ones do not pass stack config to dynamic providers, so `pulumi up` fails "
            f'with "no API key"); upgrade it with {install}'
        )
    return None


def run(target: Target, pulumi_path: str, ssh_cidr: str | None) -> int:
    state_dir = Path(tempfile.mkdtemp(prefix="gcore-demo-state-"))
    passphrase = secrets.token_urlsafe(24)
    with Interrupts() as interrupts:
        env = pulumi_env(target, state_dir, passphrase)
        return run_stack(Pulumi(pulumi_path, env, interrupts), target, ssh_cidr, state_dir)


# --- without the Pulumi CLI: the project's built-in engine driver -------------------------


def with_target(args: argparse.Namespace, real: Target | None, job: Callable[[Target], int]) -> int:
    """Run ``job`` against real Gcore (``real``, from --real), else against an emulator
    started here and stopped afterwards, saying which."""
    if real is not None:
        say(
            f"Real Gcore at {real.base_url}: rules go into security group "
            f"{real.group_id} (project {real.project_id}, region {real.region_id}) "
            "and are deleted again at the end."
        )
        return job(real)

    api_key = secrets.token_urlsafe(24)
    # In a session of its own: the terminal's Ctrl-C is for pulumi (which then cancels) or the
    # runner, and the emulator must stay up for the cleanup's destroy.
    emulator = EmulatorProcess(api_key, [GROUP_NAME], log=args.emulator_log, new_session=True)
    try:
        info = emulator.start()
        target = Target(
            base_url=str(info["base_url"]),
            api_key=api_key,
            project_id=int(info.get("project_id", 1)),
            region_id=int(info.get("region_id", 1)),
            group_id=str(info["groups"][GROUP_NAME]),
            real=False,
        )
        say(
            f"Gcore API emulator (pid {emulator.pid}) at {target.base_url}, "
            f"security group {GROUP_NAME!r}: {target.group_id}\n"
        )
        return job(target)
    except DemoError as exc:
        warn(f"scripts/demo: {exc}")
        return EXIT_FAILED
    finally:
        emulator.stop()


def drive_program(target: Target, ssh_cidr: str | None) -> int:
    """The program through the runner, with the stack config the CLI path sets; the rules
    the API holds are shown after up and again after the destroy."""
    from gcore_pulumi.testing import runner  # the Pulumi SDK: only on this path

    config = {
        "gcore:baseUrl": target.base_url,
        # Also for --real (where the CLI path leaves the key in GCORE_API_KEY): as a secret
        # config value it is the same key, and the runner keeps it out of its output.
        "gcore:apiKey": target.api_key,
        "gcore:projectId": str(target.project_id),
        "gcore:regionId": str(target.region_id),
        "securityGroupId": target.group_id,
    }
    if ssh_cidr:
        config["sshCidr"] = ssh_cidr
    env = dict(os.environ)
    if not target.real:
        # As on the CLI path: emulator runs never see the caller's Gcore settings, and the
        # loopback emulator is reached without a proxy.
        env = {k: v for k, v in env.items() if not k.startswith("GCORE_")}
        no_proxy = ",".join(filter(None, [env.get("NO_PROXY") or env.get("no_proxy"), "127.0.0.1"]))
        env["NO_PROXY"] = env["no_proxy"] = no_proxy

    def after_step(step: str, report: runner.RunReport) -> None:
        if step == "up":
            say("\n== What the API holds now")
            show_rules(target)

    report = runner.run(
        REPO,
        stack=STACK,
        config=config,
        secret_keys=["gcore:apiKey"],
        env=env,
        after_step=after_step,
    )
    if report.status != EXIT_OK:
        return report.status
    say("\n== What the API holds after the destroy")
    try:
        show_rules(target)
    except DemoError as exc:
        warn(f"scripts/demo: {exc}")
        return EXIT_FAILED
    say(
        "\nDemo finished (without the Pulumi CLI): the rules were created, shown, "
        "refreshed and deleted again."
    )
    return EXIT_OK


# --- main -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.real and (args.group or args.project_id or args.region_id):
        parser.error("--group, --project-id and --region-id are for --real runs only")
    if args.real and args.emulator_log:
        parser.error("--emulator-log is for emulator runs only (--real uses no emulator)")

    config_file = REPO / f"Pulumi.{STACK}.yaml"
    if config_file.exists():
        warn(
            f"scripts/demo: {config_file} already exists (left by an earlier run, or yours); "
            f"the demo writes its stack {STACK!r} config there. Move it away and try again."
        )
        return EXIT_USAGE

    real = real_target(args, parser) if args.real else None
    pulumi_path = shutil.which("pulumi")
    if pulumi_path is None:
        # No Pulumi CLI: say so first, then the built-in engine driver runs the program.
        say(NO_CLI_NOTICE + "\n")
        return with_target(args, real, lambda target: drive_program(target, args.ssh_cidr))

    # The CLI is checked before the emulator starts or anything is created.
    problem = cli_version_problem(pulumi_path)
    if problem is not None:
        warn(f"scripts/demo: {problem}")
        return EXIT_USAGE
    return with_target(args, real, lambda target: run(target, pulumi_path, args.ssh_cidr))


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    # SIGTERM and SIGHUP act as a Ctrl-C: the emulator and the provider process have sessions
    # of their own, so the demo must live on to delete the rules and stop them.
    for _name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, _name):
            signal.signal(getattr(signal, _name), _interrupt)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
