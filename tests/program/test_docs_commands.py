"""Every shell command in README.md, docs/*.md and examples/*/README.md works as written from
a fresh shell: nothing relies on an activated virtualenv (a bare `python -m gcore_pulumi...`
fails with "No module named 'pulumi'"), and the commands that need neither the Pulumi CLI nor a
second terminal are run: each emulator start is started (on a free port) from a shell with no
virtualenv and must print its JSON line.

Commands that need the Pulumi CLI (`pulumi ...`, not installable here) are not run; the
programs they run are driven through the engine protocol in test_examples_cli.py."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = sorted(
    p
    for p in [REPO / "README.md", *REPO.glob("docs/*.md"), *REPO.glob("examples/*/README.md")]
    if p.is_file()
)
SHELL_FENCE = re.compile(r"^```(?:sh|bash|shell|console)\s*$(.*?)^```", re.MULTILINE | re.DOTALL)
BARE_PYTHON = re.compile(r"(^|[\s|;&(])(python3?|pip3?)\s+(-m\s+(gcore_pulumi|pip|pytest)|install)")
#: What a first-time user has already done before the commands that follow need it.
ACTIVATES = re.compile(r"(^|\s)(source|\.)\s+\S*venv/bin/activate\b")


def commands(doc: Path) -> list[str]:
    """The shell commands of a document's fenced shell blocks (continuations joined, comments
    cut), in order; a command after `source .venv/bin/activate` in its block is marked."""
    found = []
    for block in SHELL_FENCE.findall(doc.read_text(encoding="utf-8")):
        active = False
        for line in block.replace("\\\n", " ").splitlines():
            text = line.split("  #")[0].split("   #")[0].strip()
            if not text or text.startswith("#"):
                continue
            if ACTIVATES.search(text):
                active = True
            found.append(("(activated) " if active else "") + text)
    # Commands quoted in the prose (`python -m gcore_pulumi.testing run ...`) are copied too.
    prose = SHELL_FENCE.sub("", doc.read_text(encoding="utf-8"))
    prose = re.sub(r"^```.*?^```", "", prose, flags=re.MULTILINE | re.DOTALL)
    found += [span for span in re.findall(r"`([^`\n]+)`", prose) if BARE_PYTHON.match(span)]
    return found


def test_every_document_with_commands_is_found() -> None:
    names = {str(p.relative_to(REPO)) for p in DOCS}
    assert "examples/basic/README.md" in names and "examples/adopt/README.md" in names


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_no_command_needs_an_activated_virtualenv(doc: Path) -> None:
    bare = [
        c for c in commands(doc)
        if not c.startswith("(activated) ") and BARE_PYTHON.search(c)
        and not c.startswith(("pip install /path", "pip install gcore_pulumi-"))
    ]  # fmt: skip
    assert bare == [], f"{doc}: use .venv/bin/python (or say to activate .venv) in: {bare}"


def emulator_starts() -> list[tuple[Path, str]]:
    return [
        (doc, c)
        for doc in DOCS
        for c in commands(doc)
        if re.search(r"\.venv/bin/python -m gcore_pulumi\.testing (--port|--group)", c)
        and " run " not in c
    ]


def test_emulator_starts_are_found() -> None:
    assert len(emulator_starts()) >= 5


@pytest.mark.parametrize(
    ("doc", "command"),
    emulator_starts(),
    ids=[f"{d.relative_to(REPO)}: {c[:60]}" for d, c in emulator_starts()],
)
def test_the_emulator_starts_as_written_from_a_fresh_shell(
    doc: Path, command: str, tmp_path: Path
) -> None:
    # As written, except: port 0 (8787 may be busy on a shared machine), no `&` and no log
    # file in the checkout; a fresh shell: no VIRTUAL_ENV, no .venv on PATH.
    words = shlex.split(command.replace("&", " "))
    words = ["0" if w == "8787" else w for w in words]
    words = [str(tmp_path / "emulator.log") if w == "emulator.log" else w for w in words]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    assert words[0] == ".venv/bin/python"
    with subprocess.Popen(
        words, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    ) as proc:  # fmt: skip
        assert proc.stdout is not None
        try:
            line = proc.stdout.readline()
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.communicate(timeout=30)
    printed = json.loads(line)
    assert printed["base_url"].startswith("http://127.0.0.1:")
    for name in re.findall(r"--group (\S+)", command):
        assert name in printed["groups"]


def test_the_basic_example_says_what_the_emulator_prints_at_start(tmp_path: Path) -> None:
    """examples/basic/README.md says how many lines the emulator prints when it starts, and
    what they are: count them on a real start (the key line on stderr, then the JSON)."""
    readme = (REPO / "examples" / "basic" / "README.md").read_text(encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    with subprocess.Popen(
        [".venv/bin/python", "-m", "gcore_pulumi.testing", "--port", "0", "--group", "web"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    ) as proc:  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        try:
            json_line, key_line = proc.stdout.readline(), proc.stderr.readline()
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.communicate(timeout=30)
    assert json.loads(json_line)["groups"].keys() == {"web"}
    assert "accepting API key test-api-key" in key_line
    words = {1: "one line", 2: "two lines"}
    said = re.search(r"It prints (one line|two lines)", readme)
    assert said and said.group(1) == words[bool(json_line) + bool(key_line)], said
    assert "accepting API key" in readme and "standard error" in readme
