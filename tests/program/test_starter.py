"""`python -m gcore_pulumi new DIR` makes a project that runs through the runner against the
emulator at once (plan, up, refresh, destroy), with nothing to edit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from gcore_pulumi.testing import GcoreEmulator
from tests.program.test_runner import REPO, clean_env

KEY = "starter-key-31c7"


def new(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gcore_pulumi", *args],
        capture_output=True, text=True, env=clean_env(), timeout=60, check=False,
    )  # fmt: skip


def test_a_new_project_runs_through_the_runner_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "my-firewall"
    made = new("new", str(folder))
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in folder.iterdir()) == [
        "Pulumi.yaml", "README.md", "__main__.py", "requirements.txt",
    ]  # fmt: skip
    project = yaml.safe_load((folder / "Pulumi.yaml").read_text(encoding="utf-8"))
    assert project["name"] == "my-firewall" and project["runtime"]["name"] == "python"
    assert f"-e {REPO}" in (folder / "requirements.txt").read_text(encoding="utf-8")

    with GcoreEmulator(api_key=KEY) as api:
        done = subprocess.run(
            [sys.executable, "-m", "gcore_pulumi.testing", "run", str(folder),
             "--config", f"gcore:baseUrl={api.base_url}", "--config", "gcore:projectId=1",
             "--config", "gcore:regionId=1", "--config", "gcore:retryBackoff=0.01",
             "--secret", "gcore:apiKey"],
            input=KEY + "\n", capture_output=True, text=True, env=clean_env(), cwd=tmp_path,
            timeout=180, check=False,
        )  # fmt: skip
        out = done.stdout
        assert done.returncode == 0, out + done.stderr
        # the 3 rules read back unchanged (the group's false drift is issue 15.6, not here)
        assert out.count(" created, id ") == 4 and out.count("  no drift") >= 3
        assert "4 resource(s) deleted; nothing is left behind." in out
        assert api.count("DELETE") == 4, api.dump_log()
        assert api.groups() == [] and api.all_rules() == []


def test_the_readme_names_the_commands_that_run_it(tmp_path: Path) -> None:
    folder = tmp_path / "fw"
    assert new("new", str(folder), "--name", "edge").returncode == 0
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert f"{sys.executable} -m gcore_pulumi.testing run {folder} --pause-after-up \\" in readme
    assert "name: edge" in (folder / "Pulumi.yaml").read_text(encoding="utf-8")


def test_the_readme_run_command_works_from_any_folder(tmp_path: Path) -> None:
    """`new my-firewall` (a relative path) and then the README's run command, pasted as it
    is in another folder, runs the project: the README names it by its full path."""
    (tmp_path / "here").mkdir()
    (tmp_path / "elsewhere").mkdir()
    made = subprocess.run(
        [sys.executable, "-m", "gcore_pulumi", "new", "my-firewall"],
        capture_output=True, text=True, env=clean_env(), cwd=tmp_path / "here", timeout=60,
        check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    readme = (tmp_path / "here" / "my-firewall" / "README.md").read_text(encoding="utf-8")
    block = readme.split("```sh\n", 1)[1].split("```", 1)[0]
    run_line = block.split("\n", 1)[1].strip()  # the emulator is the first command
    assert " run " in run_line, readme
    with GcoreEmulator(api_key="test-api-key") as api:
        run_line = run_line.replace("http://127.0.0.1:8787", api.base_url)
        run_line = run_line.replace("--pause-after-up", "--config gcore:retryBackoff=0.01")
        done = subprocess.run(
            ["bash", "-c", run_line], capture_output=True, text=True, env=clean_env(),
            cwd=tmp_path / "elsewhere", timeout=180, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert "4 resource(s) deleted; nothing is left behind." in done.stdout
        assert api.groups() == []
    assert "from any" in readme and "`cd " in readme  # it says where to run each command


def test_new_help_is_plain_text() -> None:
    shown = new("new", "--help")
    assert shown.returncode == 0 and "python -m gcore_pulumi new DIR: a starter" in shown.stdout
    assert "``" not in shown.stdout and "``" not in new().stdout + new().stderr


def test_an_existing_project_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "__main__.py").write_text("keep me\n", encoding="utf-8")
    refused = new("new", str(tmp_path))
    assert refused.returncode == 2 and "is not an empty folder" in refused.stderr
    assert (tmp_path / "__main__.py").read_text(encoding="utf-8") == "keep me\n"


def test_the_dispatcher_lists_its_commands_and_refuses_others() -> None:
    listed = new()
    assert listed.returncode == 0 and "  new " in listed.stdout
    unknown = new("nwe")
    assert unknown.returncode == 2 and "unknown command 'nwe'" in unknown.stderr
