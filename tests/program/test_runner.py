"""The program runner (gcore_pulumi.testing.runner, `python -m gcore_pulumi.testing run`): the
examples' real __main__.py through plan, up, refresh and destroy against the emulator, with
no Pulumi CLI."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gcore_pulumi.testing import GcoreEmulator, RequestRecord
from gcore_pulumi.testing.runner import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    HEADER,
    RunReport,
    run,
)

KEY = "runner-test-key-7f3a9c"
REPO = Path(__file__).resolve().parents[2]
BASIC = REPO / "examples" / "basic"
GROUP_AND_RULES = REPO / "examples" / "group-and-rules"
RULE = "pulumi-python:dynamic/gcore:SecurityGroupRule"
GROUP = "pulumi-python:dynamic/gcore:SecurityGroup"
BASIC_RULES = {"https-ipv4", "https-ipv6", "http-ipv4", "http-ipv6", "ssh", "icmp-echo"}


@pytest.fixture
def api() -> Iterator[GcoreEmulator]:
    with GcoreEmulator(api_key=KEY) as emulator:
        yield emulator


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("GCORE_")}


def provider_config(api: GcoreEmulator, **extra: str) -> dict[str, str]:
    return api.stack_config(1, 1, **{"gcore:retryBackoff": "0.01", **extra})


def run_quietly(program: Path, config: dict[str, str], **kwargs: object) -> tuple[RunReport, str]:
    out = io.StringIO()
    report = run(
        program,
        config=config,
        secret_keys=["gcore:apiKey"],
        out=out,
        env=clean_env(),
        **kwargs,  # type: ignore[arg-type]
    )
    return report, out.getvalue()


def write_program(folder: Path, source: str, name: str = "tiny") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Pulumi.yaml").write_text(f"name: {name}\nruntime: python\n", encoding="utf-8")
    (folder / "__main__.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return folder


def test_basic_example_is_planned_created_refreshed_and_destroyed(api: GcoreEmulator) -> None:
    group = api.create_group()
    live_after_up: list[str] = []

    def after_step(step: str, report: RunReport) -> None:
        if step == "up":
            live_after_up.extend(rule["id"] for rule in api.rules(group))

    config = {**provider_config(api), "securityGroupId": group}
    report, out = run_quietly(BASIC, config, after_step=after_step)

    assert report.status == EXIT_OK, out
    assert out.splitlines()[:2] == HEADER.splitlines()
    assert {r.name for r in report.planned} == BASIC_RULES
    assert out.count("would be created") == 6
    created_ids = {r.name: r.id for r in report.created}
    assert set(created_ids) == BASIC_RULES
    assert sorted(live_after_up) == sorted(created_ids.values())
    for name, rule_id in created_ids.items():
        assert f"{RULE}  {name}  created, id {rule_id}" in out
    assert report.outputs["rule_ids"] == created_ids
    assert out.count("no drift") == 6 and "No drift." in out
    assert [r.name for r in report.destroyed] == [r.name for r in reversed(report.created)]
    assert api.rules(group) == []
    assert api.count("DELETE") == 6
    # The plan and refresh steps changed nothing: one POST per rule, all during up.
    assert api.count("POST") == 6


def test_group_and_rules_example_leaves_nothing_behind(api: GcoreEmulator) -> None:
    report, out = run_quietly(GROUP_AND_RULES, provider_config(api, adminCidr="10.1.0.0/16"))

    assert report.status == EXIT_OK, out
    [group] = [r for r in report.created if r.type_token == GROUP]
    assert len(report.created) == 6
    # The group was created first, so it is deleted last (after its rules).
    assert report.destroyed[-1].id == group.id
    assert "10.1.0.0/16" in out  # the unnamespaced --config key reached the program
    assert api.groups() == [] and api.all_rules() == []


def test_refresh_reports_what_changed_out_of_band(api: GcoreEmulator) -> None:
    def after_step(step: str, report: RunReport) -> None:
        if step == "up":
            created = {r.name: r for r in report.created}
            api.remove_rule(str(created["ssh"].id))
            api.update_group(str(created["web"].id), description="edited in the console")

    report, out = run_quietly(GROUP_AND_RULES, provider_config(api), after_step=after_step)

    assert report.status == EXIT_OK, out
    drift = {r.resource.name: r for r in report.drifted}
    assert set(drift) == {"ssh", "web"}
    assert drift["ssh"].gone
    assert f"{RULE}  ssh  drift: gone (deleted outside this run)" in out
    old, new = drift["web"].changes["description"]
    assert new == "edited in the console" and old != new
    assert '-> "edited in the console"' in out
    assert out.count("no drift") == 4 and "2 resource(s) drifted." in out
    # The gone rule is not deleted again; everything else is.
    assert "ssh" not in {r.name for r in report.destroyed}
    assert len(report.destroyed) == 5
    assert api.groups() == [] and api.all_rules() == []


def test_a_check_failure_creates_nothing_and_exits_1(api: GcoreEmulator, tmp_path: Path) -> None:
    group = api.create_group()
    program = write_program(
        tmp_path,
        """
        import pulumi
        from gcore_pulumi import SecurityGroupRule

        group = pulumi.Config().require("securityGroupId")
        SecurityGroupRule("fine", group_id=group, direction="ingress", protocol="tcp",
                          port_range_min=22, port_range_max=22)
        SecurityGroupRule("ports-without-protocol", group_id=group, direction="ingress",
                          port_range_min=22, port_range_max=22)
        """,
    )
    report, out = run_quietly(program, {**provider_config(api), "securityGroupId": group})

    assert report.status == EXIT_FAILED
    assert f"error: {RULE}  ports-without-protocol: " in out
    assert "property port_range_min value 22 has a problem" in out
    assert "Plan failed: nothing was created." in out
    assert "== Up" not in out
    assert report.created == [] and api.count("POST") == 0 and api.rules(group) == []


def test_a_create_failure_destroys_what_was_created_and_exits_1(api: GcoreEmulator) -> None:
    group = api.create_group()
    # The 4th rule POST gets a proxy's HTML 404: not from Gcore, so the provider fails it.
    api.faults.add("html_404", method="POST", schedule=[4])
    config = {**provider_config(api, **{"gcore:maxRetries": "0"}), "securityGroupId": group}
    report, out = run_quietly(BASIC, config)

    assert report.status == EXIT_FAILED, out
    assert len(report.errors) == 1 and report.errors[0].startswith(f"error: {RULE}  ")
    assert "Create failed: " in report.errors[0]
    assert len(report.created) == 5
    assert "Up stopped after creating 5 resource(s)." in out
    assert "== Refresh" not in out
    assert {r.id for r in report.destroyed} == {r.id for r in report.created}
    assert api.rules(group) == []
    assert "Run FAILED" in out


def test_ctrl_c_destroys_what_was_created_and_exits_130(api: GcoreEmulator) -> None:
    group = api.create_group()

    def after_step(step: str, report: RunReport) -> None:
        if step == "up":
            raise KeyboardInterrupt

    config = {**provider_config(api), "securityGroupId": group}
    report, out = run_quietly(BASIC, config, after_step=after_step)

    assert report.status == EXIT_INTERRUPTED and report.interrupted
    assert len(report.destroyed) == 6 and api.rules(group) == []
    assert "== Refresh" not in out
    assert "Run interrupted (Ctrl-C); what it had created was destroyed." in out


def test_a_secure_value_in_the_stack_file_is_refused_naming_the_key(
    api: GcoreEmulator, tmp_path: Path
) -> None:
    program = write_program(tmp_path, "import pulumi\n")
    (program / "Pulumi.dev.yaml").write_text(
        "config:\n  gcore:apiKey:\n    secure: v1:c2VjcmV0\n  tiny:greeting: hi\n",
        encoding="utf-8",
    )
    report, out = run_quietly(program, {})

    assert report.status == EXIT_USAGE
    [line] = [line for line in out.splitlines() if line.startswith("error:")]
    assert "gcore:apiKey is encrypted (secure:)" in line
    assert "pass it with --secret gcore:apiKey=VALUE" in line
    assert api.requests == []

    # Given on the command line, the key is not read from the file, so the run goes on.
    report, out = run_quietly(program, provider_config(api))
    assert report.status == EXIT_OK, out
    assert "config tiny:greeting: hi" in out


def test_config_keys_get_the_project_namespace_and_the_program_reads_them(
    tmp_path: Path,
) -> None:
    program = write_program(
        tmp_path,
        """
        import pulumi

        config = pulumi.Config()
        pulumi.export("greeting", config.require("greeting"))
        pulumi.export("from_file", config.require("fromFile"))
        pulumi.export("overridden", config.require("overridden"))
        pulumi.export("number", config.require_int("count"))
        pulumi.CustomResource("test:index:Thing", "thing", {"a": "b"})
        """,
    )
    (program / "Pulumi.qa.yaml").write_text(
        "config:\n  tiny:fromFile: file\n  tiny:overridden: file\n  count: 3\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    report = run(
        program,
        stack="qa",
        config={"greeting": "hello", "tiny:overridden": "command line"},
        out=out,
        env=clean_env(),
    )
    text = out.getvalue()

    assert report.status == EXIT_OK, text
    assert report.outputs == {
        "greeting": "hello",
        "from_file": "file",
        "overridden": "command line",
        "number": 3,
    }
    assert "config tiny:greeting: hello" in text and "config tiny:count: 3" in text
    assert "test:index:Thing  thing  not a dynamic resource: echoed as a mock" in text


def test_secret_values_never_appear_in_the_output(tmp_path: Path) -> None:
    program = write_program(
        tmp_path,
        """
        import pulumi

        key = pulumi.Config("gcore").require("apiKey")
        pulumi.export("plain", f"the key is {key}")
        pulumi.export("secret", pulumi.Config("gcore").require_secret("apiKey"))
        """,
    )
    out = io.StringIO()
    report = run(
        program,
        config={"gcore:apiKey": KEY},
        secret_keys=["gcore:apiKey"],
        out=out,
        env=clean_env(),
    )
    text = out.getvalue()

    assert report.status == EXIT_OK, text
    assert report.outputs["plain"] == f"the key is {KEY}"  # the program did see it
    assert KEY not in text
    assert "plain: the key is [secret]" in text and "secret: [secret]" in text
    assert "config gcore:apiKey: [secret]" in text


def test_run_command_end_to_end(api: GcoreEmulator) -> None:
    group = api.create_group()
    config = provider_config(api)
    command = [sys.executable, "-m", "gcore_pulumi.testing", "run", str(BASIC)]
    command += ["--stack", "e2e", "--config", f"securityGroupId={group}"]
    for key, value in config.items():
        if key != "gcore:apiKey":
            command += ["--config", f"{key}={value}"]
    command += ["--secret", "gcore:apiKey"]  # the key comes on stdin, not the command line

    done = subprocess.run(
        command,
        input=KEY + "\n",
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=REPO,
        timeout=120,
        check=False,
    )

    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == HEADER.splitlines()
    assert "Project gcore-basic, stack e2e" in done.stdout
    assert done.stdout.count("would be created") == 6
    assert done.stdout.count(" created, id ") == 6
    assert "No drift." in done.stdout
    assert done.stdout.count(" deleted, id ") == 6
    assert KEY not in done.stdout + done.stderr
    assert api.count("POST") == 6 and api.rules(group) == []


def test_run_command_without_a_project_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gcore_pulumi.testing", "run", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == EXIT_USAGE
    assert f"error: {tmp_path} has no Pulumi.yaml" in done.stdout


def test_run_command_interrupted_during_up_destroys_what_it_created(api: GcoreEmulator) -> None:
    # group-and-rules creates the group first, its rules only once the group has an id: a
    # Ctrl-C while the group's POST is in flight lets that Create finish (it is tracked and
    # destroyed) and stops the rules' Creates from being sent.
    procs: list[subprocess.Popen[str]] = []

    def ctrl_c_during_the_first_post(record: RequestRecord) -> None:
        if record.method == "POST" and api.count("POST") == 1:
            procs[0].send_signal(signal.SIGINT)
            time.sleep(0.6)  # the answer waits: the Create is still in flight meanwhile

    api.on_request(ctrl_c_during_the_first_post)
    command = [sys.executable, "-m", "gcore_pulumi.testing", "run", str(GROUP_AND_RULES)]
    for key, value in provider_config(api).items():
        command += ["--secret" if key == "gcore:apiKey" else "--config", f"{key}={value}"]

    # Ctrl-C reaches a command run in the foreground of a terminal, whose SIGINT is never
    # ignored; a test suite started in the background of a script (`cmd &`, nohup) hands its
    # children SIGINT ignored, which Python keeps, so the child gets the terminal's default.
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=clean_env(),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as proc:  # fmt: skip
        procs.append(proc)
        out, _ = proc.communicate(timeout=120)

    assert proc.returncode == EXIT_INTERRUPTED, out
    assert "Interrupted: no more Creates are sent; waiting for those in flight." in out
    assert out.count(" created, id ") == 1 and f"{GROUP}  web  created, id " in out
    assert out.count(" deleted, id ") == 1 and f"{GROUP}  web  deleted, id " in out
    assert "== Refresh" not in out
    assert api.count("POST") == 1 and api.groups() == [] and api.all_rules() == []
    assert "Run interrupted (Ctrl-C); what it had created was destroyed." in out


def test_the_api_key_given_with_config_is_still_a_secret(api: GcoreEmulator) -> None:
    group = api.create_group()
    config = {**provider_config(api), "securityGroupId": group}
    out = io.StringIO()
    report = run(BASIC, config=config, out=out, env=clean_env())  # no secret_keys at all
    assert report.status == EXIT_OK, out.getvalue()
    assert KEY not in out.getvalue()
    assert "config gcore:apiKey: [secret]" in out.getvalue()


def test_a_reader_that_goes_away_does_not_stop_the_destroy(api: GcoreEmulator) -> None:
    # `... run examples/basic | head -3`: the pipe closes early; the run must still delete
    # every rule it made (nothing is kept to delete them later).
    group = api.create_group()
    command = [sys.executable, "-m", "gcore_pulumi.testing", "run", str(BASIC)]
    command += ["--config", f"securityGroupId={group}"]
    command += [f"--config={k}={v}" for k, v in provider_config(api).items()]
    reader, writer = os.pipe()
    process = subprocess.Popen(
        command, stdout=writer, stderr=subprocess.PIPE, env=clean_env(), cwd=REPO
    )
    os.close(writer)
    with os.fdopen(reader, "rb") as stream:
        stream.read(200)  # the header, then the reader is gone
    _, err = process.communicate(timeout=120)
    assert api.count("POST") >= 1, "the run made nothing: the test proves nothing"
    assert api.rules(group) == [], err.decode()
    assert process.returncode == EXIT_OK, err.decode()
    assert b"BrokenPipeError" not in err
