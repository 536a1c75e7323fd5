"""Gcore's asynchronous tasks, the pure parts: when to poll, and what an ended task means.

A v2 write (group create or update, v2 rule create or delete) answers ``{"tasks": [id]}``
and the change happens when the task finishes, seconds later. ``GcoreClient.wait_for_task``
polls ``GET /cloud/v1/tasks/{id}`` at the offsets ``poll_offsets`` gives, measured from the
moment the write was answered:

    0.1, 0.225, 0.381, 0.577, 0.821, 1.126, 1.507, 1.984, 2.58, 3.325, ... s

(the first wait 0.1 s, each next one 1.25 times longer, never longer than gcore:taskPollMax),
so a task that takes 1 s is seen finished by the 6th poll, 1.126 s after the write, and a
long one costs one poll every 3 s (the default cap). The official SDK waits 3 s before its
first poll, which makes every group create take at least 3 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, Literal

from .errors import GcoreError

TaskState = Literal["NEW", "RUNNING", "FINISHED", "ERROR"]
PENDING_STATES: Final[tuple[TaskState, ...]] = ("NEW", "RUNNING")
"""States of a task that has not ended yet."""

FIRST_POLL: Final = 0.1
"""Seconds from the write's answer to the first poll."""
GROWTH: Final = 1.25
"""Each wait between polls is this many times the previous one, up to the cap."""


def poll_offsets(cap: float, first: float = FIRST_POLL, growth: float = GROWTH) -> Iterator[float]:
    """Endless, increasing offsets (seconds after the start) at which to poll a task; no
    wait between two polls is longer than ``cap`` (``gcore:taskPollMax``, 3 s by default)."""
    wait = min(first, cap)
    offset = 0.0
    while True:
        offset += wait
        yield offset
        wait = min(wait * growth, cap)


class TaskFailedError(GcoreError):
    """A task ended in ``ERROR``: Gcore refused the change, and made nothing."""

    def __init__(self, task_id: str, task_type: str | None, error: str | None) -> None:
        self.task_id = task_id
        self.task_type = task_type
        self.error = error
        kind = f" ({task_type})" if task_type else ""
        reason = " ".join((error or "").split()) or "no reason given"  # one line
        super().__init__(f"Gcore task {task_id}{kind} failed: {reason}")


class TaskPendingError(GcoreError):
    """A task had not ended when the operation's deadline (``gcore:deadline``) came."""

    def __init__(self, task_id: str, state: str, waited: float, hint: str | None = None) -> None:
        self.task_id = task_id
        self.state = state
        text = (
            f"Gcore task {task_id} is still {state} after {waited:.0f}s, and the deadline "
            "(gcore:deadline) has come; raise gcore:deadline if Gcore is this slow"
        )
        super().__init__(f"{text}. {hint}" if hint else text)
