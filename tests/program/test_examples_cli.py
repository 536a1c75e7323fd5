"""The example programs and the demo, end to end.

- Layout: every example folder is a complete Pulumi project, and the root Pulumi.yaml runs
  examples/basic via ``main:`` without a ``virtualenv:`` option (see the comment there).
- ``scripts/demo.py``: without the Pulumi CLI it exits 2 naming what to install and leaves no
  emulator behind; with a stand-in ``pulumi`` on PATH it drives the CLI in order, never
  exposes the API key and always cleans up.
- With the real CLI (``@pytest.mark.cli``, skipped where it is absent): the Automation API
  runs up, refresh (no changes), preview (no changes) and destroy for the root project and
  every example against an in-process Gcore emulator.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import stat
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from gcore_pulumi.testing import GcoreEmulator

# scripts/demo writes Pulumi.demo.yaml in the repository root and refuses to start while one
# exists, so the tests that run it go to one xdist worker, one after the other.
pytestmark = pytest.mark.xdist_group("repo-demo")

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
DEMO = REPO / "scripts" / "demo.py"
EXAMPLE_NAMES = ("basic", "web-tier", "remote-group", "adopt")
EXAMPLE_FILES = ("Pulumi.yaml", "__main__.py", "requirements.txt", "README.md")

INSTALL_URL = "https://www.pulumi.com/docs/iac/download-install/"
INSTALL_COMMAND = "curl -fsSL https://get.pulumi.com | sh"
CLI_SKIP_REASON = (
    f"Pulumi CLI not found on PATH: install it from {INSTALL_URL} "
    f"(or `{INSTALL_COMMAND}`) to run the Automation API tests"
)
LEAK_CANARY = "canary-real-gcore-key-must-never-be-used-or-printed"


# --- a minimal YAML reader (Pulumi.yaml files are simple mappings of scalars) -----------


def parse_simple_yaml(text: str) -> dict[str, Any]:
    """Nested ``key: value`` mappings by indentation; scalars stay strings. Enough for the
    Pulumi.yaml files here, with no dependency on PyYAML."""
    root: dict[str, Any] = {}
    stack: list[tuple[int, dict[str, Any]]] = [(-1, root)]
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        key, sep, value = line.strip().partition(":")
        assert sep, f"not a `key: value` line: {raw!r}"
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        value = value.strip()
        if value:
            parent[key] = value.strip("\"'")
        else:
            child: dict[str, Any] = {}
            parent[key] = child
            stack.append((indent, child))
    return root


def all_keys(mapping: Mapping[str, Any]) -> Iterator[str]:
    for key, value in mapping.items():
        yield key
        if isinstance(value, Mapping):
            yield from all_keys(value)


def test_simple_yaml_reader() -> None:
    parsed = parse_simple_yaml(
        "# comment\nname: x  # trailing\nruntime:\n  name: python\n  options:\n"
        "    virtualenv: venv\nmain: 'a/b'\n"
    )
    assert parsed == {
        "name": "x",
        "runtime": {"name": "python", "options": {"virtualenv": "venv"}},
        "main": "a/b",
    }


# --- layout ------------------------------------------------------------------------------


def example_dirs() -> list[Path]:
    return sorted(p for p in EXAMPLES.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def test_every_example_is_a_complete_project() -> None:
    found = {p.name for p in example_dirs()}
    assert set(EXAMPLE_NAMES) <= found
    for folder in example_dirs():
        missing = [name for name in EXAMPLE_FILES if not (folder / name).is_file()]
        assert not missing, f"{folder.relative_to(REPO)} lacks {missing}"
        project = parse_simple_yaml((folder / "Pulumi.yaml").read_text(encoding="utf-8"))
        assert project.get("name"), f"{folder.name}/Pulumi.yaml has no name"
        runtime = project.get("runtime")
        runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
        assert runtime_name == "python", f"{folder.name}/Pulumi.yaml runtime is {runtime!r}"
        requirements = (folder / "requirements.txt").read_text(encoding="utf-8").splitlines()
        assert any(r.startswith("pulumi") for r in requirements)
        readme = (folder / "README.md").read_text(encoding="utf-8")
        assert "python -m gcore_pulumi.testing --port 8787" in readme
        assert "pulumi config set --secret gcore:apiKey" in readme


def test_root_project_runs_basic_without_virtualenv_option() -> None:
    text = (REPO / "Pulumi.yaml").read_text(encoding="utf-8")
    project = parse_simple_yaml(text)
    assert project.get("name") == "gcore-pulumi-demo"
    assert project.get("runtime") == {"name": "python", "options": {"toolchain": "pip"}}
    assert project.get("main") == "examples/basic"
    assert "virtualenv" not in set(all_keys(project)), (
        "a relative virtualenv: with main: in a subfolder breaks the dynamic provider"
    )
    assert "virtualenv" in text, "the comment explaining why there is no virtualenv: is gone"
    assert "PULUMI_PYTHON_CMD" in text, "the comment says which Python the CLI runs"


def project_files() -> list[Path]:
    """Every Pulumi.yaml in the repository (not in virtualenvs, caches or dot-folders)."""
    found = []
    skip = {"venv", "node_modules", "__pycache__", "build", "dist"}
    for folder, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in skip]
        found += [Path(folder) / name for name in files if name in ("Pulumi.yaml", "Pulumi.yml")]
    return sorted(found)


def test_every_pulumi_project_has_its_own_name() -> None:
    """One backend holds the stacks of every project here: names must not collide."""
    names: dict[str, list[str]] = {}
    for path in project_files():
        name = parse_simple_yaml(path.read_text(encoding="utf-8")).get("name")
        assert isinstance(name, str) and name, f"{path.relative_to(REPO)} has no name"
        names.setdefault(name, []).append(str(path.relative_to(REPO)))
    assert len(names) >= 1 + len(EXAMPLE_NAMES)
    assert {n: p for n, p in names.items() if len(p) > 1} == {}


def test_every_pulumi_project_pins_the_pip_toolchain() -> None:
    """A uv.lock or poetry.lock in a parent folder must not switch the CLI's tool."""
    for path in project_files():
        runtime = parse_simple_yaml(path.read_text(encoding="utf-8")).get("runtime")
        assert isinstance(runtime, dict), f"{path.relative_to(REPO)}: runtime has no options"
        assert runtime.get("name") == "python"
        options = runtime.get("options")
        assert isinstance(options, dict) and options.get("toolchain") == "pip", path


def test_examples_install_the_package_from_this_checkout() -> None:
    """`pulumi up` in an example creates its venv from requirements.txt: the package must
    come from the checkout by path, not from an index under its unpublished name."""
    for folder in example_dirs():
        lines = (folder / "requirements.txt").read_text(encoding="utf-8").splitlines()
        requirements = [line.split(" #", 1)[0].strip() for line in lines]
        requirements = [r for r in requirements if r and not r.startswith("#")]
        assert "pulumi>=3.216,<4" in requirements, folder.name
        assert not [r for r in requirements if r.lower().replace("_", "-") == "gcore-pulumi"]
        paths = [r.split(None, 1)[1] for r in requirements if r.startswith("-e ")]
        assert len(paths) == 1, f"{folder.name}/requirements.txt: {requirements}"
        # pip runs with the example folder as its working directory (the CLI's cwd).
        root = (folder / paths[0]).resolve()
        assert root == REPO, f"{folder.name}: {paths[0]} is {root}"
        pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
        assert 'name = "gcore-pulumi"' in pyproject


def test_demo_wrapper_is_executable() -> None:
    wrapper = REPO / "scripts" / "demo"
    assert os.access(wrapper, os.X_OK)
    body = wrapper.read_text(encoding="utf-8")
    assert "scripts/demo.py" in body
    assert "ensure_venv base" in body  # scripts/lib/venv.sh: installs when .venv is incomplete


# --- scripts/demo.py without (and with a stand-in for) the Pulumi CLI --------------------


def path_without_pulumi(path: str | None = None) -> str:
    entries = (path if path is not None else os.environ.get("PATH", "")).split(os.pathsep)
    return os.pathsep.join(e for e in entries if e and not (Path(e) / "pulumi").exists())


def processes_with_marker(marker: str) -> list[int]:
    """Pids of live processes whose environment holds ``marker`` (Linux /proc)."""
    needle = marker.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            status = (entry / "status").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if needle in environ and "\nState:\tZ" not in status:
            found.append(int(entry.name))
    return found


@dataclass
class DemoRun:
    returncode: int
    stdout: str
    stderr: str
    marker: str
    calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_demo(
    *args: str, path: str, extra_env: Mapping[str, str] | None = None, timeout: float = 120
) -> DemoRun:
    marker = f"gcore-demo-test-{uuid.uuid4()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GCORE_", "PULUMI_"))}
    env.update(
        {
            "PATH": path,
            "DEMO_TEST_MARKER": marker,
            # Set as a user might have it: the demo must neither use nor print it.
            "GCORE_API_KEY": LEAK_CANARY,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra_env or {})
    completed = subprocess.run(
        [sys.executable, str(DEMO), *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return DemoRun(completed.returncode, completed.stdout, completed.stderr, marker)


def assert_no_leftovers(run: DemoRun) -> None:
    if Path("/proc/self/environ").exists():
        assert processes_with_marker(run.marker) == [], "the demo left a process running"
    assert LEAK_CANARY not in run.output


@pytest.fixture
def no_demo_stack_file() -> None:
    if (REPO / "Pulumi.demo.yaml").exists():
        pytest.skip("Pulumi.demo.yaml exists in the repository root (a demo run in progress?)")


@pytest.mark.usefixtures("no_demo_stack_file")
def test_demo_without_cli_says_what_to_install_runs_the_runner_and_leaves_nothing() -> None:
    # The run itself is checked in test_demo_without_cli.py; here: the notice, no leftover
    # process (emulator, provider process), no stack file, and the user's key never used.
    run = run_demo(path=path_without_pulumi())
    assert run.returncode == 0, run.output
    notice, _, rest = run.stdout.partition("Gcore API emulator")
    assert "Pulumi CLI" in notice and INSTALL_URL in notice and INSTALL_COMMAND in notice
    assert "built-in engine driver" in notice and rest, "the notice comes before the emulator"
    assert not (REPO / "Pulumi.demo.yaml").exists()
    assert_no_leftovers(run)


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (("--real",), {}, "--group"),
        (("--real", "--group", str(uuid.uuid4())), {"GCORE_API_KEY": ""}, "GCORE_API_KEY"),
        (("--real", "--group", "not-a-uuid"), {}, "UUID"),
        (("--group", str(uuid.uuid4())), {}, "--real"),
    ],
    ids=["no-group", "no-key", "bad-group", "group-without-real"],
)
def test_demo_refuses_incomplete_real_runs(
    args: tuple[str, ...], env: dict[str, str], needle: str
) -> None:
    run = run_demo(*args, path=path_without_pulumi(), extra_env=env)
    assert run.returncode == 2, run.output
    assert needle in run.stderr
    assert "Traceback" not in run.stderr
    assert_no_leftovers(run)


FAKE_PULUMI = """\
#!{python}
# A stand-in for the Pulumi CLI: records each call (argv, stdin, environment) as a JSON line.
import json, os, sys
args = sys.argv[1:]
if args == ["version"]:
    print("v3.216.0")
    sys.exit(0)
stdin = None if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
keys = ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "VIRTUAL_ENV", "PATH",
        "GCORE_API_KEY", "NO_PROXY", "PULUMI_PYTHON_CMD")
record = {{"args": args, "stdin": stdin, "cwd": os.getcwd(),
          "env": {{k: os.environ.get(k) for k in keys}}}}
with open(os.environ["FAKE_PULUMI_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps(record) + "\\n")
if args and args[0] == os.environ.get("FAKE_PULUMI_FAIL"):
    print("fake pulumi: failing " + args[0], file=sys.stderr)
    sys.exit(1)
if args[:2] == ["stack", "output"]:
    print("rule_ids  {{...}}")
"""


def write_fake_pulumi(bin_dir: Path) -> None:
    bin_dir.mkdir()
    fake = bin_dir / "pulumi"
    fake.write_text(FAKE_PULUMI.format(python=sys.executable), encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def read_calls(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def positional(args: list[str]) -> list[str]:
    """The arguments without flags (and without the value of ``--stack``)."""
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--stack":
            skip = True
        elif not arg.startswith("-"):
            kept.append(arg)
    return kept


def verbs(calls: list[dict[str, Any]]) -> list[str]:
    names = []
    for call in calls:
        args = positional(call["args"])
        names.append(" ".join(args[:2]) if args[0] in ("stack", "config") else args[0])
    return names


@pytest.mark.usefixtures("no_demo_stack_file")
@pytest.mark.parametrize("fail", [None, "up"])
def test_demo_drives_the_cli_and_cleans_up(tmp_path: Path, fail: str | None) -> None:
    write_fake_pulumi(tmp_path / "bin")
    log = tmp_path / "calls.jsonl"
    extra = {"FAKE_PULUMI_LOG": str(log)}
    if fail:
        extra["FAKE_PULUMI_FAIL"] = fail
    path = os.pathsep.join([str(tmp_path / "bin"), path_without_pulumi()])
    run = run_demo(path=path, extra_env=extra)
    calls = read_calls(log)

    assert run.returncode == (1 if fail else 0), run.output
    assert verbs(calls) == [
        "stack init",
        "config set",
        "config set",
        "config set",
        "config set",
        "config set",
        "up",
        *([] if fail else ["stack output"]),
        "destroy",
        "stack rm",
    ]
    assert all(Path(call["cwd"]) == REPO for call in calls), "runs the root project"
    settings = {
        positional(call["args"])[2]: call for call in calls if call["args"][:2] == ["config", "set"]
    }
    for call in calls[1:]:
        args = call["args"]
        assert "--stack" in args and args[args.index("--stack") + 1] == "demo", args
    assert set(settings) == {
        "gcore:baseUrl",
        "gcore:apiKey",
        "gcore:projectId",
        "gcore:regionId",
        "securityGroupId",
    }
    base_url = settings["gcore:baseUrl"]["args"][-1]
    assert base_url.startswith("http://127.0.0.1:"), "the emulator, never real Gcore"
    key_call = settings["gcore:apiKey"]
    assert "--secret" in key_call["args"]
    assert key_call["args"][-1] == "gcore:apiKey", "the key goes through stdin, not argv"
    assert key_call["stdin"] and key_call["stdin"] != LEAK_CANARY
    assert key_call["stdin"] not in run.output
    uuid.UUID(settings["securityGroupId"]["args"][-1])

    up = next(call for call in calls if call["args"][0] == "up")
    assert "--yes" in up["args"]
    env = up["env"]
    assert env["GCORE_API_KEY"] is None, "the caller's real key is kept from emulator runs"
    assert env["PULUMI_CONFIG_PASSPHRASE"]
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert all(call["env"]["PULUMI_PYTHON_CMD"] == sys.executable for call in calls)
    if sys.prefix != sys.base_prefix:
        assert env["VIRTUAL_ENV"] == sys.prefix
    backend = env["PULUMI_BACKEND_URL"]
    assert backend.startswith("file://")
    assert not Path(unquote(urlsplit(backend).path)).exists(), "the temporary state is removed"
    assert not (REPO / "Pulumi.demo.yaml").exists()
    if not fail:
        assert "Demo finished" in run.stdout
        assert "0 rule(s) in security group" in run.stdout
    assert_no_leftovers(run)


# --- the real CLI via the Automation API --------------------------------------------------


@dataclass(frozen=True)
class Groups:
    web: str
    db: str


@dataclass(frozen=True)
class Case:
    """One project to run: where it is, its config, and what must exist after ``up``."""

    name: str
    layout: Callable[[Path], Path]
    """Copies the project into a temp dir; returns the work_dir."""
    config: Callable[[Groups], dict[str, str]]
    expected: Callable[[Groups], dict[str, int]]
    """group id -> number of rules after up."""
    setup: Callable[[GcoreEmulator, Groups], list[str]] | None = None
    """Creates rules out of band before up; returns their ids."""


def example_copy(name: str) -> Callable[[Path], Path]:
    """The example folder copied as is, with ``venv`` linked to the virtualenv running the
    tests: its Pulumi.yaml says ``virtualenv: venv``, resolved in that folder by both the
    program and the dynamic provider."""

    def layout(tmp: Path) -> Path:
        work = tmp / name
        shutil.copytree(EXAMPLES / name, work, ignore=shutil.ignore_patterns("venv", "__pycache__"))
        (work / "venv").symlink_to(sys.prefix, target_is_directory=True)
        return work

    return layout


def root_copy(tmp: Path) -> Path:
    """The root project (Pulumi.yaml with ``main: examples/basic``) in the same layout."""
    work = tmp / "root"
    work.mkdir()
    shutil.copy2(REPO / "Pulumi.yaml", work / "Pulumi.yaml")
    shutil.copytree(
        EXAMPLES / "basic",
        work / "examples" / "basic",
        ignore=shutil.ignore_patterns("venv", "__pycache__"),
    )
    return work


def adopt_setup(api: GcoreEmulator, groups: Groups) -> list[str]:
    """The rules examples/adopt takes over, as if made in the console."""
    ssh = api.add_rule(
        groups.web,
        direction="ingress",
        ethertype="IPv4",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="198.51.100.0/24",
        description="SSH from the office",
    )
    https = api.add_rule(
        groups.web,
        direction="ingress",
        ethertype="IPv4",
        protocol="tcp",
        port_range_min=443,
        port_range_max=443,
        remote_ip_prefix="0.0.0.0/0",
        description="HTTPS",
    )
    return [str(ssh["id"]), str(https["id"])]


def web_group(groups: Groups) -> dict[str, str]:
    return {"securityGroupId": groups.web}


CASES = (
    Case("root", root_copy, web_group, lambda g: {g.web: 6}),
    Case("basic", example_copy("basic"), web_group, lambda g: {g.web: 6}),
    Case("web-tier", example_copy("web-tier"), web_group, lambda g: {g.web: 8}),
    Case(
        "remote-group",
        example_copy("remote-group"),
        lambda g: {"securityGroupId": g.db, "remoteGroupId": g.web},
        lambda g: {g.db: 2, g.web: 0},
    ),
    Case("adopt", example_copy("adopt"), web_group, lambda g: {g.web: 2}, adopt_setup),
)


def cli_env(tmp: Path) -> dict[str, str]:
    state = tmp / "state"
    state.mkdir()
    bin_dir = str(Path(sys.executable).parent)
    env = {
        "PULUMI_BACKEND_URL": state.as_uri(),
        "PULUMI_CONFIG_PASSPHRASE": "test-passphrase",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        # Both the program and `python -m pulumi.dynamic` run this virtualenv's python3; a
        # PULUMI_PYTHON_CMD from the shell would win over PATH, so it names this one too.
        "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
        "PULUMI_PYTHON_CMD": sys.executable,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    if sys.prefix != sys.base_prefix:
        env["VIRTUAL_ENV"] = sys.prefix
    return env


@pytest.mark.cli
@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_up_refresh_destroy_against_emulator(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("pulumi") is None:
        pytest.skip(CLI_SKIP_REASON)
    from pulumi import automation as auto

    # The provider falls back to GCORE_* variables: none may leak in from the shell.
    for key in list(os.environ):
        if key.startswith("GCORE_"):
            monkeypatch.delenv(key)

    with GcoreEmulator() as api:
        groups = Groups(web=api.create_group(name="web"), db=api.create_group(name="db"))
        adopted = case.setup(api, groups) if case.setup else []
        work_dir = case.layout(tmp_path)
        stack = auto.create_stack(
            "test",
            work_dir=str(work_dir),
            opts=auto.LocalWorkspaceOptions(env_vars=cli_env(tmp_path)),
        )
        try:
            stack.set_config("gcore:baseUrl", auto.ConfigValue(api.base_url))
            stack.set_config("gcore:apiKey", auto.ConfigValue(api.api_key, secret=True))
            stack.set_config("gcore:projectId", auto.ConfigValue("1"))
            stack.set_config("gcore:regionId", auto.ConfigValue("1"))
            for key, value in case.config(groups).items():
                stack.set_config(key, auto.ConfigValue(value))

            up = stack.up(on_output=print)
            assert up.summary.result == "succeeded"
            expected = case.expected(groups)
            assert {g: len(api.rules(g)) for g in expected} == expected
            rule_ids = up.outputs["rule_ids"].value
            revisions = up.outputs["revision_numbers"].value
            assert set(rule_ids) == set(revisions)
            live = {str(r["id"]) for g in expected for r in api.rules(g)}
            assert set(rule_ids.values()) == live
            assert set(adopted) <= live, "adopt_existing took the existing rules over"
            assert all(value == 0 for value in revisions.values())

            refresh = stack.refresh(expect_no_changes=True, on_output=print)
            assert set(refresh.summary.resource_changes or {}) <= {"same"}
            preview = stack.preview(expect_no_changes=True, on_output=print)
            assert set(preview.change_summary) <= {"same"}

            destroy = stack.destroy(on_output=print)
            assert destroy.summary.result == "succeeded"
            assert {g: api.rules(g) for g in expected} == {g: [] for g in expected}
        finally:
            stack.workspace.remove_stack("test", force=True)


# --- every example under mocks, resources forwarded to a real provider process (no CLI) ---


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.name != "root"], ids=[c.name for c in CASES if c.name != "root"]
)
def test_example_program_creates_its_rules(case: Case) -> None:
    """Each example's __main__.py, run as the engine would (its config set, resources sent
    to `python -m pulumi.dynamic`), creates the expected rules at the emulator."""
    import pulumi

    from gcore_pulumi import SecurityGroupRuleProvider
    from gcore_pulumi.testing.engine import ProviderProcess
    from gcore_pulumi.testing.mocks import ForwardingMocks, run_program

    folder = EXAMPLES / case.name
    env = {k: v for k, v in os.environ.items() if not k.startswith("GCORE_")}
    with (
        GcoreEmulator() as api,
        ProviderProcess(SecurityGroupRuleProvider(), env=env, cwd=str(folder)) as process,
    ):
        groups = Groups(web=api.create_group(name="web"), db=api.create_group(name="db"))
        adopted = case.setup(api, groups) if case.setup else []
        process.configure(
            {
                "gcore:apiKey": api.api_key,
                "gcore:baseUrl": api.base_url,
                "gcore:projectId": "1",
                "gcore:regionId": "1",
            },
            secret_keys=["gcore:apiKey"],
        )
        config = {f"project:{key}": value for key, value in case.config(groups).items()}

        def program() -> Any:
            pulumi.runtime.set_all_config(config)
            namespace = runpy.run_path(str(folder / "__main__.py"), run_name="__main__")
            rules = namespace["rules"]
            return pulumi.Output.all(*[rule.id for rule in rules.values()])

        ids = run_program(ForwardingMocks(process), program)
        expected = case.expected(groups)
        assert {g: len(api.rules(g)) for g in expected} == expected
        live = {str(r["id"]) for g in expected for r in api.rules(g)}
        assert set(ids) == live
        assert set(adopted) <= live


@pytest.mark.cli
@pytest.mark.slow
def test_group_and_rules_up_rename_refresh_destroy_against_emulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """examples/group-and-rules under the real CLI: the group and its rules are created, a
    rename updates the group in place and leaves its rules, refresh and preview show no
    change, destroy removes the group and every rule."""
    if shutil.which("pulumi") is None:
        pytest.skip(CLI_SKIP_REASON)
    from pulumi import automation as auto

    for key in list(os.environ):
        if key.startswith("GCORE_"):
            monkeypatch.delenv(key)

    with GcoreEmulator() as api:
        work_dir = example_copy("group-and-rules")(tmp_path)
        stack = auto.create_stack(
            "test",
            work_dir=str(work_dir),
            opts=auto.LocalWorkspaceOptions(env_vars=cli_env(tmp_path)),
        )
        try:
            stack.set_config("gcore:baseUrl", auto.ConfigValue(api.base_url))
            stack.set_config("gcore:apiKey", auto.ConfigValue(api.api_key, secret=True))
            stack.set_config("gcore:projectId", auto.ConfigValue("1"))
            stack.set_config("gcore:regionId", auto.ConfigValue("1"))
            up = stack.up(on_output=print)
            group_id = up.outputs["group_id"].value
            rule_ids = set(up.outputs["rule_ids"].value.values())
            assert {str(r["id"]) for r in api.rules(group_id)} == rule_ids

            stack.set_config("groupName", auto.ConfigValue("web-tier-renamed"))
            renamed = stack.up(on_output=print)
            assert renamed.outputs["group_id"].value == group_id  # updated, not replaced
            assert api.group(group_id)["name"] == "web-tier-renamed"
            assert {str(r["id"]) for r in api.rules(group_id)} == rule_ids

            stack.refresh(expect_no_changes=True, on_output=print)
            stack.preview(expect_no_changes=True, on_output=print)
            stack.destroy(on_output=print)
            assert api.groups() == []
        finally:
            stack.workspace.remove_stack("test", force=True)
