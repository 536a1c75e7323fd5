"""The emulator's command line where a user can go wrong: which API key it accepts (never
GCORE_API_KEY), fault specs that would do nothing, a port or host it cannot listen on, and a
client speaking https:// to a plain http server."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3

from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.__main__ import main

REPO_ROOT = Path(__file__).resolve().parents[2]
PROG = "python -m gcore_pulumi.testing"
REAL_LOOKING_KEY = "3f9c1e7a-real-gcore-key-8b2d4c6e0a1f"
TLS_LINE = "a client tried https:// on the emulator, which speaks plain http: use "


def _env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GCORE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


@contextmanager
def serving(*args: str, env: Mapping[str, str] = {}) -> Iterator[tuple[dict[str, Any], list[str]]]:
    """Run the emulator; yield its JSON line and a list that gets its stderr once stopped."""
    stderr: list[str] = []
    proc = subprocess.Popen(
        [sys.executable, "-m", "gcore_pulumi.testing", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(env),
        cwd=REPO_ROOT,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, proc.communicate(timeout=10)[1]
        yield json.loads(line), stderr
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
        stderr.append(err)
    assert proc.returncode == 0, err
    assert out == "", "stdout holds exactly one JSON line"


def run_to_exit(*args: str, env: Mapping[str, str] = {}) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gcore_pulumi.testing", *args],
        capture_output=True,
        text=True,
        env=_env(env),
        cwd=REPO_ROOT,
        timeout=20,
        check=False,
    )


def status_with_key(info: dict[str, Any], key: str) -> int:
    url = f"{info['base_url']}/cloud/v1/securitygroups/1/1/{info['groups']['default']}"
    return requests.get(url, headers={"Authorization": f"APIKey {key}"}, timeout=5).status_code


# --- the API key ---------------------------------------------------------------------------


def test_gcore_api_key_in_the_shell_is_ignored_noted_and_never_printed() -> None:
    with serving(env={"GCORE_API_KEY": REAL_LOOKING_KEY}) as (info, stderr):
        assert status_with_key(info, "test-api-key") == 200
        assert status_with_key(info, REAL_LOOKING_KEY) == 401
    (err,) = stderr
    assert f"{PROG}: accepting API key test-api-key (the default;" in err
    assert "GCORE_API_KEY is set in this shell and is NOT used by the emulator" in err
    assert "unless gcore:apiKey is set in the stack config" in err
    assert REAL_LOOKING_KEY not in err


def test_gcore_emulator_api_key_is_accepted_and_not_printed() -> None:
    env = {"GCORE_EMULATOR_API_KEY": "emulator-only-key", "GCORE_API_KEY": REAL_LOOKING_KEY}
    with serving(env=env) as (info, stderr):
        assert status_with_key(info, "emulator-only-key") == 200
        assert status_with_key(info, "test-api-key") == 401
        assert status_with_key(info, REAL_LOOKING_KEY) == 401
    (err,) = stderr
    assert "accepting the API key in GCORE_EMULATOR_API_KEY" in err
    assert "emulator-only-key" not in err
    assert REAL_LOOKING_KEY not in err
    assert "GCORE_API_KEY is set in this shell and is NOT used" in err


def test_api_key_option_wins_is_printed_and_a_matching_gcore_api_key_needs_no_note() -> None:
    env = {"GCORE_EMULATOR_API_KEY": "not-this-one", "GCORE_API_KEY": "cli-key"}
    with serving("--api-key", "cli-key", env=env) as (info, stderr):
        assert status_with_key(info, "cli-key") == 200
        assert status_with_key(info, "not-this-one") == 401
    (err,) = stderr
    assert err == f"{PROG}: accepting API key cli-key (from --api-key)\n"


def test_empty_api_key_option_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--api-key", ""])
    assert exited.value.code == 2
    assert "argument --api-key: must not be empty" in capsys.readouterr().err


# --- fault specs that would do nothing ------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("503:PSOT", "unknown method 'PSOT'"),
        ("503:GET:0", "probability '0'"),
        ("slow:POST", "slow needs its delay"),
        ("drop:*:1:5", "kind drop takes no PARAM"),
        ("redirect:*:1:200", "the status of redirect"),
        ("429:*:1:soon", "the Retry-After of 429"),
    ],
)
def test_useless_fault_spec_is_refused_in_one_line_from_option_and_environment(
    spec: str, problem: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GCORE_EMULATOR_FAULTS", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["--fault", spec])
    assert exited.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith(f"{PROG}: error: argument --fault: fault {spec!r}: "), last
    assert problem in last

    monkeypatch.setenv("GCORE_EMULATOR_FAULTS", f"502:GET:0.5;{spec}")
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith(f"{PROG}: error: GCORE_EMULATOR_FAULTS: fault {spec!r}: "), last
    assert problem in last


# --- where it cannot listen ------------------------------------------------------------------


def test_busy_port_is_one_line_and_exit_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_to_exit("--port", str(port))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"{PROG}: port {port} on 127.0.0.1 is already in use; pick another --port or 0 for a "
        "free one\n"
    )


@pytest.mark.parametrize("host", ["999.1.1.1", "192.0.2.1"])
def test_unusable_host_is_one_line_and_exit_1(host: str) -> None:
    done = run_to_exit("--host", host)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith(f"{PROG}: cannot use --host {host}: "), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "127.0.0.1" in done.stderr


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_port_outside_0_to_65535_is_refused(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--port", port])
    assert exited.value.code == 2
    assert "argument --port: must be a port number 0-65535" in capsys.readouterr().err


# --- https:// against the plain http emulator -------------------------------------------------


def test_https_client_is_told_in_one_stderr_line_and_plain_http_still_works() -> None:
    with serving() as (info, stderr):
        https_url = info["base_url"].replace("http://", "https://", 1) + "/cloud/v1/tasks/x"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            with pytest.raises(requests.exceptions.SSLError):
                requests.get(https_url, verify=False, timeout=5)
        assert status_with_key(info, "test-api-key") == 200
    (err,) = stderr
    assert f"gcore emulator: {TLS_LINE}{info['base_url']} as gcore:baseUrl\n" in err
    assert "Bad request" not in err and "Traceback" not in err


def test_tls_handshake_is_closed_noticed_and_the_emulator_keeps_serving() -> None:
    notices: list[str] = []
    with GcoreEmulator(on_notice=notices.append) as api:
        port = int(api.base_url.rsplit(":", 1)[1])
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        for _ in range(2):
            with (
                socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
                pytest.raises((ssl.SSLError, ConnectionError)),
            ):
                context.wrap_socket(raw, server_hostname="127.0.0.1")
        url = f"{api.base_url}/cloud/v1/securitygroups/1/1/{api.create_group()}"
        headers = {"Authorization": f"APIKey {api.api_key}"}
        assert requests.get(url, headers=headers, timeout=5).status_code == 200
    expected = f"gcore emulator: {TLS_LINE}{api_url(port)} as gcore:baseUrl"
    assert notices == [expected, expected]
    assert [r.path for r in api.requests] == [url.split(str(port), 1)[1]]


def api_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def test_help_names_the_run_command_and_the_emulator_key_rules(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert f"{PROG} run PROGRAM_DIR" in text and "without the Pulumi CLI" in text
    assert "GCORE_API_KEY is never used" in text and "test-api-key" in text


def test_latency_delays_every_answer() -> None:
    """--latency (GcoreEmulator(latency=...)) adds a distance to every request, for benchmarks."""
    import time

    import requests

    from gcore_pulumi.testing import GcoreEmulator
    from gcore_pulumi.testing.__main__ import build_parser

    assert build_parser().parse_args(["--latency", "0.03"]).latency == 0.03
    with GcoreEmulator(latency=0.2) as api:
        started = time.monotonic()
        requests.get(f"{api.base_url}/cloud/v1/securitygroups/1/1", timeout=5,
                     headers={"Authorization": f"APIKey {api.api_key}"})  # fmt: skip
        assert time.monotonic() - started >= 0.2
