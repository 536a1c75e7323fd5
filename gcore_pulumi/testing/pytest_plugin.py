"""pytest fixtures for the Gcore API emulator.

Enable with ``pytest_plugins = ["gcore_pulumi.testing.pytest_plugin"]`` in the root
``conftest.py``. Each test gets its own freshly started emulator, so no state or injected
fault leaks from one test into another.

The emulator is seeded, so that faults added with a probability below 1 (and the ids it makes)
fall the same way on every run of a test: a failure can be replayed. The seed is
``GCORE_EMULATOR_SEED`` when that variable is set (to replay or vary a run), else a number
derived from the test's id (stable across runs and machines, different between tests).
Override the ``gcore_emulator_seed`` fixture to choose it in code (``None`` for a random run).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator

import pytest

from gcore_pulumi.testing.emulator import GcoreEmulator

__all__ = ["SEED_VARIABLE", "gcore_emulator", "gcore_emulator_seed", "gcore_group"]

SEED_VARIABLE = "GCORE_EMULATOR_SEED"


@pytest.fixture
def gcore_emulator_seed(request: pytest.FixtureRequest) -> int | None:
    """The emulator's seed: $GCORE_EMULATOR_SEED, else derived from the test's id."""
    given = os.environ.get(SEED_VARIABLE, "").strip()
    if given:
        try:
            return int(given)
        except ValueError:
            raise pytest.UsageError(f"{SEED_VARIABLE} must be an integer, got {given!r}") from None
    return zlib.crc32(request.node.nodeid.encode("utf-8"))


@pytest.fixture
def gcore_emulator(
    request: pytest.FixtureRequest, gcore_emulator_seed: int | None
) -> Iterator[GcoreEmulator]:
    """A started emulator on a free loopback port, stopped after the test; seeded (see the
    module's doc). The seed is in the test's report (``user_properties``) to replay a failure
    with ``GCORE_EMULATOR_SEED=<seed>``."""
    request.node.user_properties.append(("gcore_emulator_seed", gcore_emulator_seed))
    with GcoreEmulator(seed=gcore_emulator_seed) as emulator:
        yield emulator


@pytest.fixture
def gcore_group(gcore_emulator: GcoreEmulator) -> str:
    """The id of an empty security group in the emulator (project 1, region 1)."""
    return gcore_emulator.create_group(project_id=1, region_id=1, name="default")
