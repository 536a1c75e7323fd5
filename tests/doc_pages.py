"""The user documentation as the tests read it: README.md (the front door) and every page
under docs/. A test that checks what the documentation quotes or promises reads these, so a
quote moved from one page to another is still checked."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def pages() -> dict[Path, str]:
    """README.md and docs/*.md, each with its text."""
    found = {README: README.read_text(encoding="utf-8")}
    for page in sorted(DOCS.glob("*.md")):
        found[page] = page.read_text(encoding="utf-8")
    assert len(found) > 5, "docs/ has lost its pages"
    return found


def all_text() -> str:
    return "\n\n".join(pages().values())


def section(heading: str) -> str:
    """The body of the one section (any level) titled ``heading``, up to the next heading of
    the same or a higher level, wherever it is."""
    found: list[str] = []
    for text in pages().values():
        for match in re.finditer(rf"^(#+) {re.escape(heading)}\n", text, re.M):
            level = len(match.group(1))
            rest = text[match.end() :]
            end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
            found.append(rest[: end.start()] if end else rest)
    assert len(found) == 1, (
        f"expected one section {heading!r} in README.md and docs/, got {len(found)}"
    )
    return found[0]


def python_blocks() -> list[tuple[Path, str]]:
    """Every fenced ```python block of every page, with its page."""
    return [
        (page, block)
        for page, text in pages().items()
        for block in re.findall(r"```python\n(.*?)```", text, re.S)
    ]
