"""scripts/demo.py's emulator gets the demo's key through GCORE_EMULATOR_API_KEY, and no
other GCORE_* variable of the caller's shell (a real GCORE_API_KEY, faults) reaches it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import requests

DEMO = Path(__file__).resolve().parents[2] / "scripts" / "demo.py"


def load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gcore_demo_under_test", DEMO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while decorating
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_demo_emulator_accepts_the_demo_key_and_nothing_from_the_shell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GCORE_API_KEY", "shell-real-key")
    monkeypatch.setenv("GCORE_EMULATOR_API_KEY", "shell-emulator-key")
    monkeypatch.setenv("GCORE_EMULATOR_FAULTS", "503:GET")
    emulator = load_demo().EmulatorProcess("demo-key", ["web"])
    try:
        info = emulator.start()
        url = f"{info['base_url']}/cloud/v1/securitygroups/1/1/{info['groups']['web']}"
        statuses = {
            key: requests.get(
                url, headers={"Authorization": f"APIKey {key}"}, timeout=5
            ).status_code
            for key in ("demo-key", "shell-emulator-key", "shell-real-key", "test-api-key")
        }
    finally:
        emulator.stop()
    assert statuses == {
        "demo-key": 200,
        "shell-emulator-key": 401,
        "shell-real-key": 401,
        "test-api-key": 401,
    }
