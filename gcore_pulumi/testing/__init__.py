"""Test support for gcore_pulumi: a faithful local emulator of the Gcore Cloud API.

Importing this package only pulls in the standard library (and nothing from the provider),
so tests and tools can use the emulator without the Pulumi SDK being initialised.

Typical use::

    from gcore_pulumi.testing import GcoreEmulator

    with GcoreEmulator() as api:
        group_id = api.create_group()
        ...  # point the provider at api.base_url with api.api_key

or, in pytest, ``pytest_plugins = ["gcore_pulumi.testing.pytest_plugin"]`` and the
``gcore_emulator`` / ``gcore_group`` fixtures.
"""

from __future__ import annotations

from gcore_pulumi.testing.emulator import ApiError, GcoreEmulator, RequestRecord
from gcore_pulumi.testing.faults import (
    ALL_FAULT_KINDS,
    BROKEN_ANSWER_KINDS,
    FAULT_KINDS,
    PROXY_FAULT_KINDS,
    Fault,
    FaultInjector,
    FaultKind,
)
from gcore_pulumi.testing.neutron import RuleSpec, RuleValidationError
from gcore_pulumi.testing.service import DEFAULT_TEMPLATE, DUPLICATE_MODES, DuplicateMode
from gcore_pulumi.testing.tasks import TASK_TYPES

__all__ = [
    "ALL_FAULT_KINDS",
    "BROKEN_ANSWER_KINDS",
    "DEFAULT_TEMPLATE",
    "DUPLICATE_MODES",
    "FAULT_KINDS",
    "PROXY_FAULT_KINDS",
    "TASK_TYPES",
    "ApiError",
    "DuplicateMode",
    "Fault",
    "FaultInjector",
    "FaultKind",
    "GcoreEmulator",
    "RequestRecord",
    "RuleSpec",
    "RuleValidationError",
]
