"""The quick tier: ``scripts/test --quick`` (or ``pytest -m quick``) runs the unit and HTTP
tiers, which start no provider process, CLI or virtualenv, for the inner loop. Every test
still runs in the full suite (`scripts/test`, CI)."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
QUICK_TIERS = (TESTS / "unit", TESTS / "http")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(item.path)
        if any(path.is_relative_to(tier) for tier in QUICK_TIERS) and not item.get_closest_marker(
            "slow"
        ):
            item.add_marker(pytest.mark.quick)
