"""Every hint about what to run next fits where it runs: under the program runner
(GCORE_PULUMI_RUNNER=1) no hint names a Pulumi CLI command; under the CLI the texts are the
documented ones, unchanged."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gcore_pulumi import hints
from gcore_pulumi.api import group_update, groups, rules

HINTS: dict[str, tuple[Callable[[], str], str]] = {
    "group gone": (groups.group_gone, groups.GROUP_GONE),
    "group 404": (groups.group_404, groups.GROUP_404),
    "group in use": (groups._group_in_use, groups._GROUP_IN_USE),
    "maybe created": (rules.maybe_created, rules.MAYBE_CREATED),
    "not applied": (group_update._not_applied, group_update._NOT_APPLIED),
}


@pytest.mark.parametrize("name", HINTS)
def test_under_the_runner_no_hint_names_the_cli(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    made, cli_text = HINTS[name]
    monkeypatch.setenv(hints.RUNNER_ENV, "1")
    text = made()
    assert "pulumi " not in text and "`pulumi" not in text, text
    assert text != cli_text
    monkeypatch.delenv(hints.RUNNER_ENV)
    assert made() == cli_text
