"""Where a resource lives: its project and region, given or taken from config.

An omitted ``project_id`` / ``region_id`` comes from ``gcore:projectId`` /
``gcore:regionId`` (else ``GCORE_CLOUD_PROJECT_ID`` / ``GCORE_CLOUD_REGION_ID``): at check,
and for state written without them (by hand, or by an older version), reads, deletes and
lookups. One fallback, and one message when neither is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from . import hints
from .errors import ConfigurationError


@dataclass(frozen=True)
class Defaults:
    """Values taken from stack config or the environment when an input is omitted."""

    project_id: int | None = None
    region_id: int | None = None


PLACE_SOURCES: Final = {
    "project_id": ("gcore:projectId", "GCORE_CLOUD_PROJECT_ID"),
    "region_id": ("gcore:regionId", "GCORE_CLOUD_REGION_ID"),
}
"""Where an omitted ``project_id`` / ``region_id`` comes from: config key, then variable."""


def missing_place(key: str) -> str:
    """Why ``key`` has no value, and how to give it one."""
    config_key, env = PLACE_SOURCES[key]
    return (
        f"no {key}: pass {key}=..., or set it for the stack with "
        f"{hints.set_config(config_key, '<id>')} or the {env} environment variable"
    )


def with_place(values: Mapping[str, Any], defaults: Defaults) -> dict[str, Any]:
    """``values`` with an omitted project or region taken from config (None if unset)."""
    filled = dict(values)
    for key in PLACE_SOURCES:
        if filled.get(key) is None:
            filled[key] = getattr(defaults, key)
    return filled


def require_place(values: Mapping[str, Any], defaults: Defaults) -> dict[str, Any]:
    """``with_place``, or a ``ConfigurationError`` for the first of the two set nowhere."""
    filled = with_place(values, defaults)
    for key, (config_key, _) in PLACE_SOURCES.items():
        if filled[key] is None:
            raise ConfigurationError(missing_place(key), key=config_key)
    return filled


def fill_place(values: dict[str, Any], defaults: Defaults, failures: list[tuple[str, str]]) -> None:
    """An omitted ``project_id`` / ``region_id`` from config, or a failure saying how to set it."""
    for key in PLACE_SOURCES:
        if values.get(key) is None:
            fallback = getattr(defaults, key)
            if fallback is None:
                failures.append((key, missing_place(key)))
            else:
                values[key] = fallback
