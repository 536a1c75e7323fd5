"""pytest fixtures for the Gcore API emulator.

Enable with ``pytest_plugins = ["gcore_pulumi.testing.pytest_plugin"]`` in the root
``conftest.py``. Each test gets its own freshly started emulator, so no state or injected
fault leaks from one test into another.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gcore_pulumi.testing.emulator import GcoreEmulator

__all__ = ["gcore_emulator", "gcore_group"]


@pytest.fixture
def gcore_emulator() -> Iterator[GcoreEmulator]:
    """A started emulator on a free loopback port, stopped after the test."""
    with GcoreEmulator() as emulator:
        yield emulator


@pytest.fixture
def gcore_group(gcore_emulator: GcoreEmulator) -> str:
    """The id of an empty security group in the emulator (project 1, region 1)."""
    return gcore_emulator.create_group(project_id=1, region_id=1, name="default")
