"""What a run of the program runner did: exit statuses, the report, the after-step hook."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from .mocks import MockedResource

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "AfterStep",
    "Refreshed",
    "RunReport",
]

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130


@dataclass(frozen=True)
class Refreshed:
    """A created resource after refresh: ``after`` is None when it is gone (deleted outside
    this run); ``changes`` maps each output that changed to (before, after)."""

    resource: MockedResource
    after: dict[str, Any] | None
    changes: dict[str, tuple[Any, Any]]

    @property
    def gone(self) -> bool:
        return self.after is None

    @property
    def drifted(self) -> bool:
        return self.gone or bool(self.changes)


@dataclass
class RunReport:
    """What a run did, step by step. ``status`` is the exit status; ``outputs`` the stack
    outputs (values; the names of secret ones in ``secret_outputs``); ``created`` what up
    created (after refresh: as read back, without what was gone); ``errors`` the error lines
    printed."""

    project: str
    stack: str
    status: int = EXIT_OK
    planned: list[MockedResource] = field(default_factory=list)
    created: list[MockedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    refreshed: list[Refreshed] = field(default_factory=list)
    destroyed: list[MockedResource] = field(default_factory=list)
    left_behind: list[MockedResource] = field(default_factory=list)
    interrupted: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> list[Refreshed]:
        return [r for r in self.refreshed if r.drifted]


AfterStep = Callable[[str, RunReport], None]
"""Called after the "plan", "up" and "refresh" steps succeed, before the next one (a hook for
tests: change things out of band, or raise KeyboardInterrupt to act as a Ctrl-C)."""
