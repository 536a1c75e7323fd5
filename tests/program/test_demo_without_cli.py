"""scripts/demo, run as a user runs it, where there is no Pulumi CLI: it says so first, then
runs examples/basic through the built-in engine driver against its emulator, and leaves the
group empty. With a `pulumi` on PATH it takes the CLI path instead."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "scripts" / "demo"
RULES_POST = re.compile(r"^POST /cloud/v1/securitygroups/1/1/[0-9a-f-]{36}/rules (\d{3})$")
RULE_DELETE = re.compile(r"^DELETE /cloud/v1/securitygrouprules/1/1/([0-9a-f-]{36}) (\d{3})$")
CREATED = re.compile(r"^  \+ \S+SecurityGroupRule  (\S+)  created, id ([0-9a-f-]{36})$")

# scripts/demo writes Pulumi.demo.yaml in the repository root and refuses to start while one
# exists, so the tests that run it go to one xdist worker, one after the other.
pytestmark = [
    pytest.mark.xdist_group("repo-demo"),
    pytest.mark.skipif(
        not (REPO / ".venv" / "bin" / "python").exists(),
        reason="scripts/demo installs into the repository's .venv, which does not exist yet "
        "(scripts/test creates it)",
    ),
]


def path_without_pulumi() -> str:
    """PATH minus every directory that holds a `pulumi` executable."""
    kept = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder or ".") / "pulumi"
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            kept.append(folder)
    return os.pathsep.join(kept)


def demo_env(path: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GCORE_", "PULUMI_"))}
    env["PATH"] = path
    return env


def test_demo_without_the_cli_runs_the_program_through_the_runner(tmp_path: Path) -> None:
    log = tmp_path / "emulator.log"
    done = subprocess.run(
        [str(DEMO), "--emulator-log", str(log)],
        cwd=tmp_path,  # the script finds the repository itself
        env=demo_env(path_without_pulumi()),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=180,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out
    lines = out.splitlines()
    assert lines[0] == "scripts/demo: the Pulumi CLI (`pulumi`) was not found on PATH."
    assert "built-in engine driver" in lines[1] and "NOT the Pulumi CLI" in out
    assert "curl -fsSL https://get.pulumi.com | sh" in out

    sections = [
        "== Plan (a preview: Check only, nothing is created)",
        "6 resource(s) to create.",
        "== Up (Check, then Create)",
        "6 resource(s) created.",
        "== What the API holds now",
        "6 rule(s) in security group",
        "== Refresh (Read each created resource back)",
        "No drift.",
        "== Destroy (Delete each created resource, newest first)",
        "6 resource(s) deleted; nothing is left behind.",
        "== What the API holds after the destroy",
        "0 rule(s) in security group",
        "Demo finished (without the Pulumi CLI)",
    ]
    positions = [out.find(section) for section in sections]
    assert -1 not in positions, [s for s, p in zip(sections, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
    assert out.count("would be created") == 6 and out.count("no drift") == 6

    created = dict(m.groups() for m in map(CREATED.match, lines) if m)
    assert set(created) == {
        "https-ipv4",
        "https-ipv6",
        "http-ipv4",
        "http-ipv6",
        "ssh",
        "icmp-echo",
    }
    final_table = out[out.find("== What the API holds after the destroy") :].splitlines()
    assert final_table[2].split() == [
        "direction",
        "ethertype",
        "protocol",
        "ports",
        "remote",
        "description",
    ]
    assert final_table[3:4] == [""]  # no rule rows

    requests = log.read_text(encoding="utf-8").splitlines()
    posts = [m.group(1) for m in map(RULES_POST.match, requests) if m]
    deletes = [m.groups() for m in map(RULE_DELETE.match, requests) if m]
    assert len(posts) == 6 and all(status.startswith("2") for status in posts)
    assert all(status.startswith("2") for _, status in deletes)
    assert sorted(rule_id for rule_id, _ in deletes) == sorted(created.values())
    assert not any(line.startswith(("POST", "PUT", "DELETE", "PATCH")) for line in requests
                   if not (RULES_POST.match(line) or RULE_DELETE.match(line)))  # fmt: skip


def test_demo_with_a_pulumi_on_path_takes_the_cli_path(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    fake = bin_dir / "pulumi"
    fake.write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\nexit 3\n', encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)

    done = subprocess.run(
        [str(DEMO)],
        cwd=tmp_path,
        env=demo_env(os.pathsep.join([str(bin_dir), path_without_pulumi()])),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=180,
        check=False,
    )

    assert done.returncode != 0, done.stdout  # the fake CLI fails whatever it is asked
    assert calls.exists() and calls.read_text(encoding="utf-8").strip(), done.stdout
    assert "was not found on PATH" not in done.stdout
    assert "built-in engine driver" not in done.stdout
    assert not (REPO / "Pulumi.demo.yaml").exists()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_demo_terminated_mid_run_leaves_no_emulator_or_provider_process(tmp_path: Path) -> None:
    # SIGTERM (kill, timeout, a cancelled CI job) once up has started: the emulator and the
    # provider process run in sessions of their own, so the demo must stop them itself.
    out_file = tmp_path / "out.txt"
    with (
        out_file.open("w", encoding="utf-8") as out,
        subprocess.Popen(
            [str(DEMO)],
            cwd=tmp_path,
            env=demo_env(path_without_pulumi()),
            stdout=out,
            stderr=subprocess.STDOUT,
        ) as proc,
    ):
        deadline = time.monotonic() + 120
        while "== Up" not in out_file.read_text(encoding="utf-8"):
            assert proc.poll() is None and time.monotonic() < deadline, out_file.read_text()
            time.sleep(0.05)
        children = _children(proc.pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    text = out_file.read_text(encoding="utf-8")
    try:
        assert len(children) == 2, text  # the emulator and the provider process
        deadline = time.monotonic() + 5
        while any(map(_alive, children)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(map(_alive, children)), text
        assert proc.returncode == 130, text
        assert "Run interrupted" in text
    finally:
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_demo_piped_to_a_reader_that_stops_early_still_deletes_the_rules(tmp_path: Path) -> None:
    # `scripts/demo | head -3`: printing fails once the reader is gone; the demo must still
    # delete every rule it made and exit 0.
    log = tmp_path / "emulator.log"
    reader, writer = os.pipe()
    process = subprocess.Popen(
        [str(DEMO), "--emulator-log", str(log)],
        cwd=tmp_path,
        env=demo_env(path_without_pulumi()),
        stdout=writer,
        stderr=subprocess.PIPE,
    )
    os.close(writer)
    with os.fdopen(reader, "rb") as stream:
        stream.read(100)
    _, err = process.communicate(timeout=180)
    requests = log.read_text(encoding="utf-8").splitlines()
    posts = [line for line in requests if RULES_POST.match(line)]
    deletes = [m.group(1) for m in map(RULE_DELETE.match, requests) if m]
    assert len(posts) == 6, requests
    assert len(set(deletes)) == 6, err.decode()
    assert process.returncode == 0, err.decode()
    assert b"BrokenPipeError" not in err
