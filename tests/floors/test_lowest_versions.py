"""The dependency floors are real: the lowest version that pyproject.toml allows of every
runtime dependency, installed together in a separate virtualenv, runs the engine-protocol
lifecycles, the HTTP client's tests and the unit tier (see TIERS).

The pins come from pyproject.toml's ``>=`` floors, so raising a floor moves this tier with it.
The virtualenv is kept in ``.venv-floors/`` (gitignored) and rebuilt when its key changes: a
hash of the Python version, the pins and the test tools' versions.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest itself depends on tomli below 3.11
    import tomli as tomllib

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FLOORS_VENV = ROOT / ".venv-floors"
KEY_FILE = FLOORS_VENV / "floors-key.json"
LOCK_FILE = ROOT / ".venv-floors.lock"
"""Held while .venv-floors is checked or built: parallel workers (pytest-xdist) each run
some tiers, and one builds the venv while the others wait for it."""
TIERS = (
    "tests/engine/test_lifecycle.py",
    "tests/engine/test_group_lifecycle.py",
    "tests/engine/test_driver.py",
    "tests/engine/test_secrets.py",
    "tests/http/test_client.py",
    "tests/http/test_client_tls_failures.py",
    "tests/http/test_group_client.py",
    "tests/program/test_runner.py",
    "tests/unit",
)
"""What runs on the floors, each in a pytest run of its own (so parallel workers share them):
the engine-protocol lifecycles of both resources and the SDK's server (pulumi), the program
runner (the SDK's mocks and runtime config), the HTTP client and emulator (requests,
urllib3), the models (pydantic).
The rest of tests/engine would take this tier past its two minutes of CI time."""
LEFT_OUT: tuple[str, ...] = ()
"""Nothing inside TIERS is left out. The emulator's own tests (stdlib only) and the check
against Gcore's SDK (a test tool, not a dependency of ours) do not run here."""
TOOLS = ("pytest", "hypothesis")
"""Test tools, installed in the same versions as in the running test environment."""
FLOORED = ("pulumi", "requests", "urllib3", "pydantic")
"""Runtime dependencies the issue names; each must be declared with a floor."""
INSTALL_TIMEOUT = 600.0
TIER_TIMEOUT = 300.0


def floors() -> dict[str, str]:
    """Each runtime dependency of pyproject.toml with its ``>=`` floor, by canonical name."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found: dict[str, str] = {}
    for line in project["dependencies"]:
        requirement = Requirement(line)
        lows = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        assert len(lows) == 1, f"{line!r} in pyproject.toml needs exactly one '>=' floor"
        found[requirement.name.lower()] = lows[0]
    return found


def clean_env() -> dict[str, str]:
    """This environment minus whatever would let the floors venv see other packages."""
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONNOUSERSITE"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def floors_python(pins: dict[str, str]) -> Path:
    """The floors venv's interpreter, (re)built when its key differs from the wanted one."""
    with LOCK_FILE.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        return _floors_python(pins)


def _floors_python(pins: dict[str, str]) -> Path:
    python = FLOORS_VENV / "bin" / "python"
    tools = {name: version(name) for name in TOOLS}
    wanted = {"python": sys.version, "pins": pins, "tools": tools}
    key = hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()
    if not (python.exists() and KEY_FILE.exists() and json.loads(KEY_FILE.read_text()) == key):
        shutil.rmtree(FLOORS_VENV, ignore_errors=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(FLOORS_VENV)
        requirements = [f"{n}=={v}" for n, v in {**pins, **tools}.items()]
        run = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--only-binary=:all:", *requirements],
            capture_output=True, text=True, env=clean_env(), timeout=INSTALL_TIMEOUT,
        )  # fmt: skip
        if run.returncode != 0:
            shutil.rmtree(FLOORS_VENV, ignore_errors=True)
            pytest.fail(
                f"pip could not install the lowest allowed versions {requirements} (prebuilt "
                f"wheels only) for Python {sys.version.split()[0]}. A floor with no wheel for "
                "this Python cannot be tested on it: run this tier on CI's Python (3.11), or "
                f"raise the floor in pyproject.toml. pip said:\n{run.stderr[-3000:]}"
            )
        KEY_FILE.write_text(json.dumps(key))
    # The package itself from this source tree (not a copy): a .pth line, also seen by the
    # provider processes the tests spawn with this interpreter.
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, env=clean_env(),
    ).stdout.strip()  # fmt: skip
    pth = Path(purelib) / "gcore_pulumi_source.pth"
    if not pth.exists() or pth.read_text() != f"{ROOT}\n":
        # written once, not on every call: another worker's tier may be reading it right now
        pth.write_text(f"{ROOT}\n")
    return python


REPORT = """\
import importlib.metadata as metadata, json, sys
import pulumi, pydantic, requests, urllib3, gcore_pulumi
print(json.dumps({
    "installed": {name: metadata.version(name) for name in sys.argv[1:]},
    "imported": {"pulumi": metadata.version("pulumi"), "requests": requests.__version__,
                 "urllib3": urllib3.__version__, "pydantic": pydantic.VERSION},
    "package": gcore_pulumi.__file__,
    "prefix": sys.prefix,
}))
"""


@pytest.fixture(scope="module")
def python() -> Path:
    return floors_python(floors())


def test_pyproject_floors_every_dependency_the_code_imports() -> None:
    assert set(FLOORED) <= set(floors()), f"pyproject.toml dependencies: {sorted(floors())}"


def test_floors_venv_holds_exactly_the_lowest_allowed_versions(python: Path) -> None:
    pins = floors()
    run = subprocess.run(
        [str(python), "-c", REPORT, *pins],
        capture_output=True, text=True, env=clean_env(), cwd="/", check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    # a mismatch means .venv-floors was changed by hand: delete it and it is rebuilt
    for name, floor in pins.items():
        assert Version(seen["installed"][name]) == Version(floor), (name, seen, pins)
    for name, imported in seen["imported"].items():
        assert Version(imported) == Version(pins[name]), (name, seen, pins)
    assert Path(seen["package"]).resolve().is_relative_to(ROOT / "gcore_pulumi"), seen
    assert Path(seen["prefix"]).resolve() == FLOORS_VENV.resolve(), seen


@pytest.mark.parametrize("tier", TIERS)
def test_lifecycle_http_and_unit_tiers_pass_on_the_lowest_versions(python: Path, tier: str) -> None:
    run = subprocess.run(
        [str(python), "-m", "pytest", "-q", "--tb=line", "-p", "no:cacheprovider", tier,
         *(f"--ignore={path}" for path in LEFT_OUT)],
        capture_output=True, text=True, env=clean_env(), cwd=ROOT, timeout=TIER_TIMEOUT,
    )  # fmt: skip
    summary = run.stdout.strip().splitlines()[-1:] or ["(no output)"]
    assert run.returncode == 0, (
        f"on {floors()} the tier {tier} failed: {summary[0]}\n"
        f"{run.stdout[-8000:]}\n{run.stderr[-2000:]}"
    )
    assert " passed" in summary[0] and "skipped" not in summary[0], summary[0]
