"""README's promises that code can check: the offline-testing snippet runs as written, and
the config table lists every setting the provider reads."""

from __future__ import annotations

import re
from pathlib import Path

from gcore_pulumi.settings import SETTINGS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_offline_testing_snippet_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    [snippet] = [block for block in blocks if "def test_my_program_opens_https" in block]
    namespace: dict[str, object] = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    namespace["test_my_program_opens_https"]()  # type: ignore[operator]


def test_every_setting_is_documented() -> None:
    for setting in SETTINGS:
        assert f"`{setting.config_key}`" in README, setting.config_key
        assert f"`{setting.env}`" in README, setting.env
