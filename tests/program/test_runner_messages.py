"""What the program runner (``python -m gcore_pulumi.testing run``) shows when the stack
config is wrong: the provider's own refusal, before anything is sent."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.runner import EXIT_FAILED

KEY = "runner-messages-key-2b9e"
REPO = Path(__file__).resolve().parents[2]
BASIC = REPO / "examples" / "basic"


@pytest.fixture
def apis() -> Iterator[tuple[GcoreEmulator, GcoreEmulator]]:
    """The emulator the config meant, and the one the environment names."""
    with GcoreEmulator(api_key=KEY) as meant, GcoreEmulator(api_key=KEY) as elsewhere:
        yield meant, elsewhere


def run_command(
    *options: str, env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gcore_pulumi.testing", "run", str(BASIC), *options],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GCORE_", "PULUMI_"))}
    env.update(extra)
    return env


def test_a_misspelt_base_url_fails_the_run_naming_the_setting_and_sends_nothing(
    apis: tuple[GcoreEmulator, GcoreEmulator],
) -> None:
    meant, elsewhere = apis
    group = elsewhere.create_group()
    elsewhere.clear_log()
    env = clean_env(GCORE_BASE_URL=elsewhere.base_url, GCORE_API_KEY=KEY)
    done = run_command(
        "--config", f"gcore:baseURL={meant.base_url}",
        "--config", "gcore:projectId=1", "--config", "gcore:regionId=1",
        "--config", f"securityGroupId={group}",
        env=env,
    )  # fmt: skip
    assert done.returncode == EXIT_FAILED, done.stdout + done.stderr
    assert "gcore:baseURL is not a gcore-pulumi setting" in done.stdout
    assert "did you mean gcore:baseUrl?" in done.stdout
    assert meant.requests == [] and elsewhere.requests == []


def test_an_empty_base_url_fails_the_run_naming_the_key_and_sends_nothing(
    apis: tuple[GcoreEmulator, GcoreEmulator],
) -> None:
    """``--config gcore:baseUrl=$UNSET`` gives the key empty: refused, not GCORE_BASE_URL."""
    meant, elsewhere = apis
    group = elsewhere.create_group()
    elsewhere.clear_log()
    env = clean_env(GCORE_BASE_URL=elsewhere.base_url, GCORE_API_KEY=KEY)
    done = run_command(
        "--config", "gcore:baseUrl=",
        "--config", "gcore:projectId=1", "--config", "gcore:regionId=1",
        "--config", f"securityGroupId={group}",
        env=env,
    )  # fmt: skip
    assert done.returncode == EXIT_FAILED, done.stdout + done.stderr
    assert "gcore:baseUrl is set but empty, so nothing was sent" in done.stdout
    assert "`--config gcore:baseUrl=<value>`" in done.stdout
    assert "pulumi config" not in done.stdout
    assert meant.requests == [] and elsewhere.requests == []


def test_a_missing_key_names_the_runners_option_not_the_cli(
    apis: tuple[GcoreEmulator, GcoreEmulator],
) -> None:
    meant, _ = apis
    group = meant.create_group()
    done = run_command(
        "--config", f"gcore:baseUrl={meant.base_url}",
        "--config", "gcore:projectId=1", "--config", "gcore:regionId=1",
        "--config", f"securityGroupId={group}",
        env=clean_env(),
    )  # fmt: skip
    assert done.returncode == EXIT_FAILED, done.stdout + done.stderr
    assert "no Gcore API key: set it with `--secret gcore:apiKey` or the GCORE_API_KEY" in (
        done.stdout
    )
    assert "pulumi config" not in done.stdout


@pytest.mark.parametrize(
    ("value", "problem"),
    [("abc", "is not a number"), ("1.5", "is not a whole number"), ("0", "is below 1")],
)
def test_a_bad_number_names_the_key_and_the_values_problem(
    apis: tuple[GcoreEmulator, GcoreEmulator], value: str, problem: str
) -> None:
    meant, _ = apis
    group = meant.create_group()
    meant.clear_log()
    done = run_command(
        "--config", f"gcore:baseUrl={meant.base_url}", "--secret", "gcore:apiKey",
        "--config", f"gcore:projectId={value}", "--config", "gcore:regionId=1",
        "--config", f"securityGroupId={group}",
        env=clean_env(), stdin=KEY + "\n",
    )  # fmt: skip
    assert done.returncode == EXIT_FAILED, done.stdout + done.stderr
    assert f"gcore:projectId is not usable: its value {problem}" in done.stdout
    assert "project_id is not given, and its default cannot be used" in done.stdout
    assert "value null" not in done.stdout
    assert "pulumi config" not in done.stdout
    assert meant.requests == []
