"""The pytest fixture seeds the emulator by default: random faults fall the same way on every
run of a test (so a failure replays), differently between tests, and GCORE_EMULATOR_SEED
chooses the seed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

INNER = """
pytest_plugins = ["gcore_pulumi.testing.pytest_plugin"]

import requests


def pattern(emulator):
    emulator.faults.add("503", probability=0.5)
    url = emulator.base_url + "/cloud/v1/securitygroups/1/1"
    headers = {"Authorization": "APIKey test-api-key"}
    return "".join(
        "x" if requests.get(url, headers=headers, timeout=10).status_code == 503 else "."
        for _ in range(40)
    )


def test_one(gcore_emulator, gcore_emulator_seed):
    print("ONE", gcore_emulator_seed, pattern(gcore_emulator))


def test_two(gcore_emulator, gcore_emulator_seed):
    print("TWO", gcore_emulator_seed, pattern(gcore_emulator))
"""


def run_inner(tmp_path: Path, **env: str) -> dict[str, tuple[str, str]]:
    (tmp_path / "test_inner.py").write_text(INNER, encoding="utf-8")
    base = {k: v for k, v in os.environ.items() if k != "GCORE_EMULATOR_SEED"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "test_inner.py"],
        cwd=tmp_path, env={**base, **env}, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    found = {}
    for line in done.stdout.splitlines():
        for name in ("ONE", "TWO"):
            if name in line:
                _, seed, faults = line[line.index(name) :].split()
                found[name] = (seed, faults)
    assert set(found) == {"ONE", "TWO"}, done.stdout
    return found


def test_faults_fall_the_same_way_on_every_run(tmp_path: Path) -> None:
    first, second = run_inner(tmp_path), run_inner(tmp_path)
    assert first == second
    assert first["ONE"] != first["TWO"]  # each test its own seed
    assert "x" in first["ONE"][1] and "." in first["ONE"][1]


def test_the_variable_chooses_the_seed(tmp_path: Path) -> None:
    chosen = run_inner(tmp_path, GCORE_EMULATOR_SEED="12345")
    assert chosen["ONE"] == chosen["TWO"]
    assert chosen["ONE"][0] == "12345"
    assert chosen["ONE"] != run_inner(tmp_path)["ONE"]
