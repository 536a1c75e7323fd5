"""scripts/demo.py on its CLI path, against a stand-in ``pulumi`` that answers and reacts to
signals as the real CLI does (there is no real CLI here).

- ``pulumi version`` is checked before the emulator starts: older than 3.139, or not a version
  at all, is refused in one line naming what was found and what is needed.
- Every pulumi call runs the venv's Python (PULUMI_PYTHON_CMD), whatever the shell says.
- Ctrl-C, SIGTERM or SIGHUP during ``pulumi up``: pulumi gets exactly one SIGINT (from the terminal,
  or passed on by the demo), the demo waits for it to finish cancelling, then destroys and
  removes the stack and exits 130.
- A failed ``--real`` destroy prints commands that work from the user's shell.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pty
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

# scripts/demo writes Pulumi.demo.yaml in the repository root and refuses to start while one
# exists, so the tests that run it go to one xdist worker, one after the other.
pytestmark = pytest.mark.xdist_group("repo-demo")

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "scripts" / "demo.py"
LEAK_CANARY = "canary-real-gcore-key-must-never-be-used-or-printed"

FAKE_PULUMI = r"""#!{python}
# A stand-in for the Pulumi CLI. Logs every call (argv, stdin, environment) and, for the verb
# in FAKE_PULUMI_SLOW, waits for a signal as a long `pulumi up` would: on SIGINT it cancels
# (takes FAKE_PULUMI_CANCEL_SECONDS) and exits 255, as the CLI does after a cancelled update.
import json, os, signal, socket, sys, time
from urllib.parse import urlsplit
args = sys.argv[1:]
keys = ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE",
        "PULUMI_PYTHON_CMD", "VIRTUAL_ENV", "PATH", "GCORE_API_KEY")

def record(event, **extra):
    line = dict(event=event, args=args, pid=os.getpid(), t=time.time(), **extra)
    with open(os.environ["FAKE_PULUMI_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(line) + "\n")

stdin = None if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
passphrase_file = os.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")
record("call", stdin=stdin, cwd=os.getcwd(), env={{k: os.environ.get(k) for k in keys}},
       passphrase_from_file=open(passphrase_file).read().strip() if passphrase_file else None)
if args == ["version"]:
    print(os.environ.get("FAKE_PULUMI_VERSION", "v3.216.0"))
    sys.exit(int(os.environ.get("FAKE_PULUMI_VERSION_STATUS", "0")))
if args[0] == os.environ.get("FAKE_PULUMI_SLOW"):
    # Signals are taken with sigtimedwait, which names the sender: the kernel (the terminal's
    # Ctrl-C) or a process (the demo passing it on).
    signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGINT, signal.SIGTERM}})
    record("waiting")
    cancel_until = None
    deadline = time.time() + 30
    while time.time() < (cancel_until or deadline):
        info = signal.sigtimedwait({{signal.SIGINT, signal.SIGTERM}}, 0.02)
        if info is None:
            continue
        record("signal", signal=info.si_signo, sender=info.si_pid, code=info.si_code)
        if cancel_until is None:
            print("^C received; cancelling. If you would like to terminate immediately, "
                  "press ^C again.", flush=True)
            cancel_until = time.time() + float(os.environ.get("FAKE_PULUMI_CANCEL_SECONDS", "0.5"))
    record("exit", status=255)
    sys.exit(255)
# Remember where the API is; `destroy` checks it still answers, as the real one needs it to.
url_file = os.environ["FAKE_PULUMI_LOG"] + ".baseurl"
if args[:2] == ["config", "set"] and "gcore:baseUrl" in args:
    open(url_file, "w").write(args[-1])
if args[0] == "destroy" and os.path.exists(url_file):
    url = urlsplit(open(url_file).read())
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=5).close()
        record("api", reachable=True)
    except OSError:
        record("api", reachable=False)
if args[0] in os.environ.get("FAKE_PULUMI_FAIL", "").split(","):
    print("fake pulumi: failing " + args[0], file=sys.stderr)
    sys.exit(1)
if args[:2] == ["stack", "output"]:
    print("rule_ids  {{...}}")
"""


def load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_under_test", DEMO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.mark.parametrize(
    ("printed", "expected"),
    [
        ("v3.139.0\n", (3, 139, 0)),
        ("v3.216.1", (3, 216, 1)),
        ("v3.140.0-alpha.1733+dirty\n", (3, 140, 0)),
        ("3.139.2+dirty", (3, 139, 2)),
        ("v3.138.0-dev.0", (3, 138, 0)),
        ("", None),
        ("pulumi version unknown", None),
        ("v3.139", None),
        ("warning: A new version of Pulumi is available.\nv3.216.0\n", (3, 216, 0)),
        ("v3.139.0\nwarning: something after it\n", (3, 139, 0)),
        ("warning: v3.139.0 is deprecated\n", None),
    ],
)
def test_cli_version_parsing(printed: str, expected: tuple[int, int, int] | None) -> None:
    assert load_demo().parse_cli_version(printed) == expected


# --- running the demo with the stand-in --------------------------------------------------


@dataclass
class Demo:
    proc: subprocess.Popen[bytes]
    log: Path
    reader: threading.Thread
    chunks: list[bytes]
    marker: str

    def output(self) -> str:
        return b"".join(self.chunks).decode(errors="replace")

    def events(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").split("\n")[:-1]  # whole lines only
        return [json.loads(line) for line in lines]

    def calls(self) -> list[dict[str, Any]]:
        return [e for e in self.events() if e["event"] == "call"]

    def wait_for(self, event: str, count: int = 1, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events() if e["event"] == event]
            if len(found) >= count:
                return found[count - 1]
            assert self.proc.poll() is None, f"the demo exited early:\n{self.output()}"
            time.sleep(0.02)
        raise AssertionError(f"no {event!r} from the fake pulumi:\n{self.output()}")

    def finish(self, timeout: float = 60) -> int:
        code = self.proc.wait(timeout=timeout)
        self.reader.join(timeout=10)
        return code


def path_without_pulumi() -> str:
    entries = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(e for e in entries if e and not (Path(e) / "pulumi").exists())


def fake_bin(tmp: Path) -> Path:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "pulumi"
    fake.write_text(FAKE_PULUMI.format(python=sys.executable), encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return bin_dir


def processes_with_marker(marker: str) -> list[int]:
    """Live processes whose environment holds ``marker`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            alive = "\nState:\tZ" not in (entry / "status").read_text(errors="replace")
            if (
                entry.name.isdigit()
                and alive
                and marker.encode() in (entry / "environ").read_bytes()
            ):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def demo_env(tmp: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GCORE_", "PULUMI_"))}
    env.update(
        {
            "PATH": os.pathsep.join([str(fake_bin(tmp)), path_without_pulumi()]),
            "FAKE_PULUMI_LOG": str(tmp / "calls.jsonl"),
            "GCORE_API_KEY": LEAK_CANARY,
            "PYTHONUNBUFFERED": "1",
            "DEMO_TEST_MARKER": f"gcore-demo-test-{tmp.name}-{uuid.uuid4()}",
        }
    )
    env.update(extra)
    return env


@pytest.fixture
def start_demo(tmp_path: Path) -> Iterator[Callable[..., Demo]]:
    if (REPO / "Pulumi.demo.yaml").exists():
        pytest.skip("Pulumi.demo.yaml exists in the repository root (a demo run in progress?)")
    started: list[Demo] = []

    def start(*args: str, terminal: bool = False, **extra: str) -> Demo:
        env = demo_env(tmp_path, extra)
        command = [sys.executable, str(DEMO), *args]
        if not terminal:
            proc = subprocess.Popen(
                command,
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            chunks: list[bytes] = []
            reader = threading.Thread(
                target=lambda: chunks.extend(iter(lambda: proc.stdout.read1(65536), b"")),  # type: ignore[union-attr]
                daemon=True,
            )
        else:
            # The demo in a session of its own whose controlling terminal is a pty: bytes
            # written to the master are typed at that terminal (^C included).
            master, slave = pty.openpty()
            take_tty = "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
            take_tty += "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
            proc = subprocess.Popen(
                [sys.executable, "-c", take_tty, *command[1:]],
                cwd=REPO,
                env=env,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                start_new_session=True,
            )
            os.close(slave)
            proc.pty_master = master  # type: ignore[attr-defined]
            chunks = []

            def drain() -> None:
                try:
                    while data := os.read(master, 65536):
                        chunks.append(data)
                except OSError:  # EIO once the last holder of the terminal exits
                    pass

            reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        demo = Demo(proc, tmp_path / "calls.jsonl", reader, chunks, env["DEMO_TEST_MARKER"])
        started.append(demo)
        return demo

    yield start
    for demo in started:
        if demo.proc.poll() is None:
            demo.proc.kill()
            demo.proc.wait()
        demo.reader.join(timeout=10)
        if demo.proc.stdout is not None:
            demo.proc.stdout.close()
        master = getattr(demo.proc, "pty_master", None)
        if master is not None:
            os.close(master)
    (REPO / "Pulumi.demo.yaml").unlink(missing_ok=True)


def verbs(calls: list[dict[str, Any]]) -> list[str]:
    return [" ".join(a for a in call["args"][:2] if not a.startswith("-")) for call in calls]


# --- the version check -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "status", "needles"),
    [
        ("v3.138.1", "0", ["is v3.138.1, but", "3.139 or newer", "upgrade it with `curl"]),
        ("v2.25.2+dirty", "0", ["is v2.25.2+dirty, but", "3.139 or newer"]),
        ("warning: odd", "0", ["printed 'warning: odd', not a version", "3.139 or newer"]),
        ("", "3", ["version` failed with status 3", "3.139 or newer", "install it with"]),
    ],
    ids=["3.138", "v2", "not-a-version", "fails"],
)
def test_demo_refuses_an_unusable_cli_before_starting_anything(
    start_demo: Callable[..., Demo], version: str, status: str, needles: list[str]
) -> None:
    demo = start_demo(FAKE_PULUMI_VERSION=version, FAKE_PULUMI_VERSION_STATUS=status)
    assert demo.finish() == 2, demo.output()
    out = demo.output()
    for needle in needles:
        assert needle in out
    assert "scripts/demo:" in out and "Traceback" not in out
    assert len([line for line in out.splitlines() if line.strip()]) == 1, out
    assert "emulator" not in out, "nothing starts before the check"
    assert verbs(demo.calls()) == ["version"]


@pytest.mark.parametrize(
    ("version", "code", "needle"),
    [
        ("warning: A new version of Pulumi is available\nv3.216.0", 0, "Demo finished"),
        ("warning: A new version of Pulumi is available\nv3.138.0", 2, "is v3.138.0, but"),
    ],
    ids=["new-enough", "too-old"],
)
def test_a_warning_printed_before_the_version_is_not_taken_for_it(
    start_demo: Callable[..., Demo], version: str, code: int, needle: str
) -> None:
    demo = start_demo(FAKE_PULUMI_VERSION=version)
    assert demo.finish() == code, demo.output()
    assert needle in demo.output()


# --- the Python the CLI runs -------------------------------------------------------------


def test_every_pulumi_call_runs_the_venv_python(start_demo: Callable[..., Demo]) -> None:
    demo = start_demo(PULUMI_PYTHON_CMD="/usr/bin/false")
    assert demo.finish() == 0, demo.output()
    calls = demo.calls()
    assert verbs(calls)[:2] == ["version", "stack init"] and "destroy" in verbs(calls)
    assert {call["env"]["PULUMI_PYTHON_CMD"] for call in calls} == {sys.executable}
    assert all(c["env"]["PATH"].startswith(str(Path(sys.executable).parent)) for c in calls)


# --- Ctrl-C and SIGTERM ------------------------------------------------------------------


@pytest.mark.parametrize(
    "how",
    [
        "ctrl-c at the terminal",
        "SIGINT to the demo",
        "SIGTERM to the demo",
        "SIGHUP to the demo",
        "SIGINT twice",
    ],
)
def test_interrupted_up_lets_pulumi_cancel_then_cleans_up_and_exits_130(
    start_demo: Callable[..., Demo], how: str
) -> None:
    twice = how == "SIGINT twice"
    demo = start_demo(
        terminal=how.startswith("ctrl-c"),
        FAKE_PULUMI_SLOW="up",
        FAKE_PULUMI_CANCEL_SECONDS="1.5" if twice else "0.5",
    )
    demo.wait_for("waiting")
    if how.startswith("ctrl-c"):
        os.write(demo.proc.pty_master, b"\x03")  # type: ignore[attr-defined]
    else:
        demo.proc.send_signal(getattr(signal, how.split()[0]))
    if twice:
        demo.wait_for("signal")
        demo.proc.send_signal(signal.SIGINT)
    assert demo.finish() == 130, demo.output()

    events = demo.events()
    signals = [e for e in events if e["event"] == "signal"]
    # pulumi gets one SIGINT per interrupt: the terminal's, or the demo's (never both,
    # which pulumi would take as a second Ctrl-C and stop without cancelling).
    assert [e["signal"] for e in signals] == [signal.SIGINT] * (2 if twice else 1), signals
    from_terminal = how.startswith("ctrl-c")
    assert [e["sender"] for e in signals] == [0 if from_terminal else demo.proc.pid] * len(signals)
    up_exit = next(e for e in events if e["event"] == "exit")
    calls = demo.calls()
    assert verbs(calls)[-3:] == ["up", "destroy", "stack rm"], verbs(calls)
    destroy = calls[-2]
    assert destroy["t"] >= up_exit["t"], "the demo waited for pulumi to finish cancelling"
    assert destroy["pid"] != up_exit["pid"]
    api = [e["reachable"] for e in events if e["event"] == "api"]
    assert api == [True], "the emulator is still up for the cleanup's destroy"
    out = demo.output()
    assert "waiting for pulumi to finish cancelling" in out
    name = how.split()[0] if how.startswith(("SIGTERM", "SIGHUP")) else "SIGINT"
    how_it_got_it = "pulumi got it from the terminal" if from_terminal else "passed on to pulumi"
    assert f"{name} received ({how_it_got_it}" in out
    assert "passed on" not in out if from_terminal else "from the terminal" not in out
    assert "Traceback" not in out and LEAK_CANARY not in out
    assert not (REPO / "Pulumi.demo.yaml").exists()
    if Path("/proc/self/environ").exists():
        assert processes_with_marker(demo.marker) == [], "the emulator (or pulumi) is left running"


# --- a failed --real destroy: the printed commands work from the user's shell ------------


@pytest.mark.parametrize("interrupted", [False, True], ids=["destroy-fails", "after-ctrl-c"])
def test_failed_real_destroy_prints_commands_that_work_from_the_users_shell(
    start_demo: Callable[..., Demo], tmp_path: Path, interrupted: bool
) -> None:
    temp = tmp_path / "temp dir with spaces"
    temp.mkdir()
    extra = {
        "TMPDIR": str(temp),
        "GCORE_CLOUD_PROJECT_ID": "7",
        "GCORE_CLOUD_REGION_ID": "8",
        "FAKE_PULUMI_FAIL": "destroy" if interrupted else "up,destroy",
    }
    if interrupted:
        extra["FAKE_PULUMI_SLOW"] = "up"
    demo = start_demo("--real", "--group", str(uuid.uuid4()), **extra)
    if interrupted:
        demo.wait_for("waiting")
        demo.proc.send_signal(signal.SIGINT)
    assert demo.finish() == (130 if interrupted else 1), demo.output()
    out = demo.output()
    assert LEAK_CANARY not in out
    first_calls = demo.calls()
    passphrase = first_calls[1]["env"]["PULUMI_CONFIG_PASSPHRASE"]
    backend = first_calls[1]["env"]["PULUMI_BACKEND_URL"]
    assert passphrase and str(temp) in out

    commands = [line[4:] for line in out.splitlines() if line.startswith("    ")]
    expected = ["cancel", "destroy"] if interrupted else ["destroy"]
    assert [c.split(" pulumi ", 1)[1].split()[0] for c in commands[1:]] == expected, out
    assert "pulumi cancel" in out if interrupted else "pulumi cancel" not in out
    state_dir = urllib.parse.unquote(backend.removeprefix("file://"))
    assert f"Once the destroy has succeeded, delete {state_dir}" in out
    assert f"and {REPO / 'Pulumi.demo.yaml'} (scripts/demo does not start" in out

    # As the user's shell would run them: a wrong passphrase exported, another Python named.
    shell_env = {k: v for k, v in os.environ.items() if not k.startswith(("GCORE_", "PULUMI_"))}
    shell_env.update(
        {
            "PATH": os.pathsep.join([str(tmp_path / "bin"), path_without_pulumi()]),
            "FAKE_PULUMI_LOG": str(tmp_path / "retry.jsonl"),
            "PULUMI_CONFIG_PASSPHRASE": "wrong-passphrase-from-the-shell",
            "PULUMI_PYTHON_CMD": "/usr/bin/false",
            "GCORE_API_KEY": "key-the-user-sets",
        }
    )
    ran = subprocess.run(
        ["bash", "-c", "set -e\n" + "\n".join(commands)],
        cwd=tmp_path,
        env=shell_env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    retry_log = tmp_path / "retry.jsonl"
    retries = [json.loads(line) for line in retry_log.read_text(encoding="utf-8").splitlines()]
    assert [call["args"] for call in retries] == [[v, "--yes", "--stack", "demo"] for v in expected]
    for call in retries:
        assert Path(call["cwd"]) == REPO
        assert call["env"]["PULUMI_CONFIG_PASSPHRASE"] is None
        assert call["passphrase_from_file"] == passphrase
        assert call["env"]["PULUMI_BACKEND_URL"] == backend
        assert call["env"]["PULUMI_PYTHON_CMD"] == sys.executable
        assert call["env"]["PATH"].startswith(str(Path(sys.executable).parent) + os.pathsep)
        assert call["env"]["GCORE_API_KEY"] == "key-the-user-sets"


# --- a signal when the demo's stderr reader is gone ------------------------------------


def test_signal_with_stderr_gone_still_cancels_cleans_up_and_exits_130(tmp_path: Path) -> None:
    """`scripts/demo 2>&1 | head`, then SIGTERM: the handler's note cannot be written (EPIPE);
    that must not turn into an exception out of the pulumi step (exit 1, no 130)."""
    if (REPO / "Pulumi.demo.yaml").exists():
        pytest.skip("Pulumi.demo.yaml exists in the repository root (a demo run in progress?)")
    env = demo_env(tmp_path, {"FAKE_PULUMI_SLOW": "up"})
    log = tmp_path / "calls.jsonl"
    read_end, write_end = os.pipe()
    with (tmp_path / "stdout.txt").open("wb") as stdout:
        proc = subprocess.Popen(
            [sys.executable, str(DEMO)],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=write_end,
        )
    os.close(write_end)
    try:
        deadline = time.monotonic() + 30
        while not (log.exists() and '"waiting"' in log.read_text(encoding="utf-8")):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
        os.close(read_end)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        (REPO / "Pulumi.demo.yaml").unlink(missing_ok=True)
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert code == 130, (tmp_path / "stdout.txt").read_text()
    up_exit = next(e for e in events if e["event"] == "exit")
    calls = [e for e in events if e["event"] == "call"]
    assert verbs(calls)[-3:] == ["up", "destroy", "stack rm"], verbs(calls)
    assert calls[-2]["t"] >= up_exit["t"]
