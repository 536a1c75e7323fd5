"""Adversarial review of the program runner: failures that must still end in a clean report
(a status in 0/1/2/130, a summary, everything destroyed) and secrets that must stay hidden."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gcore_pulumi.testing import GcoreEmulator, RequestRecord
from gcore_pulumi.testing.runner import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, RunReport, run
from tests.program.test_runner import clean_env, write_program

KEY = "review-test-key-51c2e0"
BASIC = Path(__file__).resolve().parents[2] / "examples" / "basic"


@pytest.fixture
def api() -> Iterator[GcoreEmulator]:
    with GcoreEmulator(api_key=KEY) as emulator:
        yield emulator


def run_against(
    api: GcoreEmulator, program: Path, secret_keys: tuple[str, ...] = (), **config: str
) -> tuple[RunReport, str]:
    out = io.StringIO()
    settings = {**api.stack_config(1, 1, **{"gcore:retryBackoff": "0.01"}), **config}
    report = run(
        program,
        config=settings,
        secret_keys=["gcore:apiKey", *secret_keys],
        out=out,
        env=clean_env(),
    )
    return report, out.getvalue()


@pytest.mark.parametrize("where", ["top level", "apply callback"])
def test_a_program_calling_sys_exit_during_up_is_a_failed_run(
    api: GcoreEmulator, tmp_path: Path, where: str
) -> None:
    exit_call = "sys.exit(3)" if where == "top level" else "group.id.apply(lambda _: sys.exit(3))"
    program = write_program(
        tmp_path,
        f"""
        import sys
        import pulumi
        from gcore_pulumi import SecurityGroup

        group = SecurityGroup("g", name="g")
        if not pulumi.runtime.is_dry_run():
            {exit_call}
        """,
    )
    report, out = run_against(api, program)  # SystemExit escaped run() before the fix

    assert report.status == EXIT_FAILED, out
    assert "error: the program failed: " in out and "sys.exit(3)" in out
    assert "Run FAILED" in out
    assert api.groups() == []


@pytest.mark.parametrize("secret", ["pässwörd-9f1e", 'quo"te\\back-9f1e'])
def test_a_secret_is_hidden_also_where_it_is_printed_json_escaped(
    api: GcoreEmulator, tmp_path: Path, secret: str
) -> None:
    program = write_program(
        tmp_path,
        """
        import pulumi
        from gcore_pulumi import SecurityGroup

        group = SecurityGroup("g", name="g", description=pulumi.Config().require_secret("desc"))
        """,
    )
    report, out = run_against(api, program, ("desc",), desc=secret)

    assert report.status == EXIT_OK, out
    assert "description=[secret]" in out  # the value is hidden, the key still shown
    for form in (secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]):
        assert form not in out


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_run_command_terminated_destroys_and_leaves_no_provider_process(
    api: GcoreEmulator,
) -> None:
    # SIGTERM (kill, timeout, a CI job cancelled) during up: as for Ctrl-C, what was created is
    # destroyed and the provider process (in a session of its own) is stopped.
    group = api.create_group()
    procs: list[subprocess.Popen[str]] = []
    provider: list[int] = []

    def terminate_during_the_first_post(record: RequestRecord) -> None:
        if record.method == "POST" and api.count("POST") == 1:
            provider.extend(_children(procs[0].pid))
            procs[0].send_signal(signal.SIGTERM)
            time.sleep(0.6)

    api.on_request(terminate_during_the_first_post)
    command = [sys.executable, "-m", "gcore_pulumi.testing", "run", str(BASIC)]
    command += ["--config", f"securityGroupId={group}"]
    for key, value in api.stack_config(1, 1, **{"gcore:retryBackoff": "0.01"}).items():
        command += ["--secret" if key == "gcore:apiKey" else "--config", f"{key}={value}"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=clean_env()
    ) as proc:
        procs.append(proc)
        out, _ = proc.communicate(timeout=120)
    try:
        assert provider, out
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in provider) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in provider), out
        assert proc.returncode == EXIT_INTERRUPTED, out
        assert api.rules(group) == [], out
    finally:
        for pid in provider:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_the_reports_error_lines_hide_secrets_as_the_output_does(
    api: GcoreEmulator, tmp_path: Path
) -> None:
    program = write_program(
        tmp_path,
        """
        import pulumi
        from gcore_pulumi import SecurityGroupRule

        SecurityGroupRule("r", group_id=pulumi.Config().require_secret("gid"), direction="ingress")
        """,
    )
    report, out = run_against(api, program, ("gid",), gid="not-a-uuid-c0ffee")

    assert report.status == EXIT_FAILED, out
    assert report.errors and "property group_id value [secret] has a problem" in report.errors[0]
    assert not any("c0ffee" in line for line in report.errors)


def test_destroy_still_deletes_everything_when_the_provider_process_died(
    api: GcoreEmulator,
) -> None:
    # The provider process is killed in the middle of the refresh: the destroy runs in a
    # provider process of its own (one per operation, as under the CLI) and deletes it all.
    group = api.create_group()
    refreshing = threading.Event()
    killed: list[int] = []

    def kill_the_provider(record: RequestRecord) -> None:
        if refreshing.is_set() and record.method == "GET" and not killed:
            for child in _children(os.getpid()):
                if b"pulumi.dynamic" in (Path("/proc") / str(child) / "cmdline").read_bytes():
                    os.kill(child, signal.SIGKILL)
                    killed.append(child)

    def after_up(step: str, report: RunReport) -> None:
        if step == "up":
            refreshing.set()

    api.on_request(kill_the_provider)
    out = io.StringIO()
    report = run(
        BASIC,
        config={
            **api.stack_config(1, 1, **{"gcore:retryBackoff": "0.01"}),
            "securityGroupId": group,
        },
        secret_keys=["gcore:apiKey"],
        out=out,
        env=clean_env(),
        after_step=after_up,
    )
    text = out.getvalue()

    assert killed, text
    assert report.status == EXIT_FAILED, text  # the refresh failed
    assert report.left_behind == [], text
    assert len(report.destroyed) == 6 and api.rules(group) == [], text


def test_pulumi_yaml_config_values_and_stack_config_dir_are_honoured(tmp_path: Path) -> None:
    # Pulumi.yaml: `value:` sets a key for every stack (the form for other namespaces);
    # `stackConfigDir:` is where Pulumi.<stack>.yaml lives.
    program = write_program(
        tmp_path,
        """
        import pulumi

        pulumi.export("tier", pulumi.Config().get("tier"))
        pulumi.export("region", pulumi.Config("other").get("region"))
        pulumi.export("size", pulumi.Config().get("size"))
        """,
    )
    manifest = program / "Pulumi.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8")
        + "stackConfigDir: config\n"
        + "config:\n  tier: {type: string, default: web}\n  other:region: {value: eu-1}\n",
        encoding="utf-8",
    )
    (program / "config").mkdir()
    (program / "config" / "Pulumi.dev.yaml").write_text(
        "config:\n  tiny:size: large\n", encoding="utf-8"
    )
    out = io.StringIO()
    report = run(program, out=out, env=clean_env())

    assert report.status == EXIT_OK, out.getvalue()
    assert report.outputs == {"tier": "web", "region": "eu-1", "size": "large"}


def test_an_object_value_with_a_secure_field_is_not_taken_for_an_encrypted_value(
    tmp_path: Path,
) -> None:
    # Pulumi encrypts a value as {secure: CIPHERTEXT}: one key, a string. An object of the
    # program's own that has a `secure` field among others is plain config.
    program = write_program(
        tmp_path,
        """
        import pulumi

        pulumi.export("tls", pulumi.Config().get_object("tls"))
        """,
    )
    (program / "Pulumi.dev.yaml").write_text(
        "config:\n  tiny:tls:\n    secure: true\n    port: 443\n", encoding="utf-8"
    )
    out = io.StringIO()
    report = run(program, out=out, env=clean_env())

    assert report.status == EXIT_OK, out.getvalue()
    assert report.outputs == {"tls": {"secure": True, "port": 443}}
