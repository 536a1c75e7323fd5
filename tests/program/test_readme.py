"""The documentation's promises that code can check (README.md and docs/*.md): the
offline-testing snippet runs as written, README's first program runs against the emulator,
every setting the provider reads is documented, and every relative link points at a file
that exists (and, with an anchor, at a heading of that page)."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

from gcore_pulumi.settings import SETTINGS
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.runner import run

from ..doc_pages import README, ROOT, pages, python_blocks


def test_offline_testing_snippet_runs() -> None:
    [(page, snippet)] = [
        (page, block)
        for page, block in python_blocks()
        if "def test_my_program_opens_https" in block
    ]
    namespace: dict[str, object] = {}
    exec(compile(snippet, str(page), "exec"), namespace)
    namespace["test_my_program_opens_https"]()  # type: ignore[operator]


def test_readme_first_program_runs_against_the_emulator(tmp_path: Path) -> None:
    """The program on README's first screen, run as written by the runner (plan, up,
    refresh, destroy) through a real provider process: the group and its three rules."""
    [(_, program), *_] = [(page, b) for page, b in python_blocks() if page == README]
    (tmp_path / "Pulumi.yaml").write_text("name: first\nruntime: python\n", encoding="utf-8")
    (tmp_path / "__main__.py").write_text(program, encoding="utf-8")
    seen: dict[str, object] = {}
    with GcoreEmulator() as api:

        def after_step(step: str, _report: object) -> None:
            if step == "up":
                [group] = api.groups()
                seen["rules"] = sorted(
                    (r["direction"], r["ethertype"], r.get("port_range_min"))
                    for r in api.rules(group["id"])
                )

        env = {k: v for k, v in os.environ.items() if not k.startswith("GCORE_")}
        report = run(
            tmp_path,
            config=api.stack_config(1, 1),
            secret_keys=["gcore:apiKey"],
            out=io.StringIO(),
            env=env,
            after_step=after_step,
        )
        assert report.status == 0, report.errors
        assert set(report.outputs) == {"group_id"}
        assert seen["rules"] == [
            ("egress", "IPv4", None),
            ("egress", "IPv6", None),
            ("ingress", "IPv4", 443),
        ]
        assert api.groups() == []


def test_every_setting_is_documented() -> None:
    readme = README.read_text(encoding="utf-8")
    for setting in SETTINGS:
        # the Configure table, on the front page
        assert f"`{setting.config_key}`" in readme, setting.config_key
        assert f"`{setting.env}`" in readme, setting.env


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_relative_links_lead_somewhere() -> None:
    checked = 0
    for page, text in pages().items():
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            assert file.exists(), f"{page.relative_to(ROOT)} links to missing {target}"
            if anchor:
                prose = re.sub(r"```.*?```", "", file.read_text(encoding="utf-8"), flags=re.S)
                headings = re.findall(r"^#+ (.+)$", prose, re.M)
                anchors = {_anchor(h) for h in headings}
                assert anchor in anchors, f"{page.relative_to(ROOT)}: no heading for {target}"
            checked += 1
    assert checked > 20


def test_readme_stays_a_front_door() -> None:
    """README is the short first page (the two commands, a program, install, configure,
    links); reference material goes to docs/."""
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 300, f"README.md has {len(lines)} lines: move reference to docs/"
    first_screen = "\n".join(lines[:40])
    assert "scripts/demo" in first_screen and "scripts/test" in first_screen
