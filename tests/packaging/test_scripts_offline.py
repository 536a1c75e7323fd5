"""scripts/test and scripts/demo need the package index only when .venv is missing or out of
date (scripts/lib/venv.sh): a complete .venv is used as it is, offline."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "scripts" / "lib" / "venv.sh"

# pip pointed at nothing: any install attempt fails (an editable install needs setuptools from
# the index for its isolated build), so success below means nothing was installed.
OFFLINE = {"PIP_NO_INDEX": "1", "PIP_INDEX_URL": "http://127.0.0.1:9/", "PIP_FIND_LINKS": ""}


def _bash(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **OFFLINE}
    return subprocess.run(
        ["bash", "-c", f". {LIB}; {script}"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _current(cwd: Path, name: str) -> bool:
    return _bash(f"venv_is_current {name}", cwd).returncode == 0


@pytest.fixture
def complete_venv() -> Path:
    stamp = ROOT / ".venv" / ".gcore-pulumi-test"
    # computed here, not by the script under test: the stamp scripts/test writes after installing
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text(encoding="utf-8").split() != [
        digest,
        str(ROOT.resolve()),
    ]:
        pytest.skip("pyproject.toml changed since scripts/test installed .venv (run it again)")
    return stamp


def test_a_complete_venv_is_used_without_the_package_index(complete_venv: Path) -> None:
    before = complete_venv.stat().st_mtime_ns
    for name in ("test", "base"):
        run = _bash(f"ensure_venv {name}", ROOT)
        assert run.returncode == 0, run.stderr
        assert "pip" not in run.stderr
    assert complete_venv.stat().st_mtime_ns == before


def test_a_changed_pyproject_or_another_checkout_makes_the_venv_out_of_date(
    complete_venv: Path, tmp_path: Path
) -> None:
    # a checkout in tmp_path whose .venv is the project's (its pieces linked, its stamps its own)
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    for piece in ("pyvenv.cfg", "lib"):
        (venv / piece).symlink_to(ROOT / ".venv" / piece)
    (venv / "bin" / "python").symlink_to(ROOT / ".venv" / "bin" / "python")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    assert not _current(tmp_path, "test")  # never installed here: no stamp
    assert _bash("venv_want > .venv/.gcore-pulumi-test", tmp_path).returncode == 0
    assert _current(tmp_path, "test") and _current(tmp_path, "base")
    (tmp_path / "pyproject.toml").write_text(pyproject + "\n# changed\n", encoding="utf-8")
    assert not _current(tmp_path, "test") and not _current(tmp_path, "base")
    # the project's own stamp names the checkout it was installed for
    stamp = ROOT / ".venv" / ".gcore-pulumi-test"
    assert stamp.read_text(encoding="utf-8").split()[1] == str(ROOT.resolve())


def test_an_out_of_date_venv_is_installed_and_says_why_when_pip_fails(tmp_path: Path) -> None:
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum is not installed")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    fake = tmp_path / ".venv" / "bin" / "python"
    fake.write_text('#!/bin/sh\necho "pip: no index" >&2\nexit 1\n', encoding="utf-8")
    fake.chmod(0o755)
    run = _bash("ensure_venv test", tmp_path)
    assert run.returncode != 0
    assert "pip: no index" in run.stderr
    assert "installing gcore-pulumi (.[test]) into .venv failed" in run.stderr
    assert not (tmp_path / ".venv" / ".gcore-pulumi-test").exists()


def test_a_venv_whose_python_is_gone_is_made_again(tmp_path: Path) -> None:
    # A .venv made by a Python that has since been removed (a pyenv or Homebrew upgrade):
    # bin/python is a dangling link. It must be made again, not fail on the old links.
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum is not installed")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python3").symlink_to(tmp_path / "gone" / "python3.99")
    (bin_dir / "python").symlink_to("python3")
    run = _bash("set -e; ensure_venv base", tmp_path)
    assert os.access(bin_dir / "python", os.X_OK), run.stderr
    assert "No such file or directory" not in run.stderr
    # offline, the install itself then fails, saying so
    assert "installing gcore-pulumi (.) into .venv failed" in run.stderr


def test_an_install_says_what_it_installs_and_why_before_it_starts(tmp_path: Path) -> None:
    # The first install takes about 20 s: the scripts say what they install and why before
    # pip starts, so the wait is never silent. The fake pip records what was printed so far.
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum is not installed")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    fake = tmp_path / ".venv" / "bin" / "python"
    fake.write_text('#!/bin/sh\necho "pip started" >&2\nexit 1\n', encoding="utf-8")
    fake.chmod(0o755)
    run = _bash("ensure_venv test", tmp_path)
    before_pip = run.stderr.split("pip started")[0]
    assert "updating .venv: installing gcore-pulumi (.[test])" in before_pip
    assert "pyproject.toml or this checkout changed" in before_pip
    assert "about 20 s" in before_pip


def test_a_current_venv_is_used_without_a_word(tmp_path: Path) -> None:
    run = _bash("ensure_venv test", ROOT)
    assert run.returncode == 0 and run.stderr == ""
