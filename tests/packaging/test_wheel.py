"""The built wheel and sdist hold everything: a fresh virtualenv with only the wheel
installed (dependencies borrowed from the test environment) runs the engine lifecycle."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

import gcore_pulumi

ROOT = Path(__file__).resolve().parents[2]

# one worker builds the wheel once (a module fixture) and runs both tests with it
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel")]


#: What a build must not see: virtualenvs, caches and earlier build output (all gitignored).
#: Other tests running at the same time write ``__pycache__`` files, which would come and go
#: under setuptools' feet if it built from the checkout itself.
NOT_SOURCES = shutil.ignore_patterns(
    ".git",
    ".venv*",
    "venv",
    "__pycache__",
    "*.egg-info",
    "build",
    "dist",
    ".*_cache",
    ".hypothesis",
)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    source = tmp_path_factory.mktemp("source") / "gcore-pulumi"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES, symlinks=True)
    built = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel",
         "--outdir", str(out), str(source)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, f"{built.stdout[-4000:]}\n{built.stderr[-4000:]}"
    return out


def test_wheel_and_sdist_contents(dist: Path) -> None:
    [wheel] = dist.glob("*.whl")
    [sdist] = dist.glob("*.tar.gz")
    assert wheel.name.startswith(f"gcore_pulumi-{gcore_pulumi.__version__}-")
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in ("__init__.py", "py.typed", "provider.py", "resource.py", "client.py",
                   "testing/__init__.py", "testing/__main__.py", "testing/emulator.py",
                   "testing/engine.py", "testing/runner.py"):  # fmt: skip
        assert f"gcore_pulumi/{module}" in names
    assert not any(name.startswith("tests/") for name in names)
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    assert any(name.endswith("README.md") for name in members)
    assert any(name.endswith("gcore_pulumi/py.typed") for name in members)


def test_installed_wheel_runs_the_engine_lifecycle(dist: Path, tmp_path: Path) -> None:
    [wheel] = dist.glob("*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )  # fmt: skip
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    # Dependencies (pulumi, requests, pydantic) come from the test environment, appended AFTER
    # the fresh site-packages; the repo's editable install is not a site dir there, so the
    # only gcore_pulumi importable is the wheel's.
    (site / "zz_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    script = textwrap.dedent(
        """
        import sys, gcore_pulumi
        assert gcore_pulumi.__file__.startswith(sys.argv[1]), gcore_pulumi.__file__
        from gcore_pulumi import SecurityGroupRuleProvider
        from gcore_pulumi.testing import GcoreEmulator
        from gcore_pulumi.testing.engine import ProviderProcess
        with GcoreEmulator(api_key="wheel-key") as api, \\
                ProviderProcess(SecurityGroupRuleProvider(), python=sys.executable) as p:
            group = api.create_group()
            p.configure({"gcore:apiKey": "wheel-key", "gcore:baseUrl": api.base_url,
                         "gcore:projectId": "1", "gcore:regionId": "1"})
            checked = p.check({"group_id": group, "direction": "ingress", "protocol": "tcp",
                               "port_range_min": 22, "port_range_max": 22})
            assert checked.failures == [], checked.failures
            rule_id, outs = p.create(checked.inputs)
            assert p.read(rule_id, outs, checked.inputs).outputs == outs
            p.delete(rule_id, outs)
            assert api.rules(group) == []
        print("lifecycle ok")
        """
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [str(python), "-c", script, str(site)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "lifecycle ok" in result.stdout
