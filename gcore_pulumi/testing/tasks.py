"""Gcore's asynchronous tasks: ``NEW`` -> ``RUNNING`` -> ``FINISHED`` (or ``ERROR``).

A task carries the change it stands for as a function. Nothing happens until the task's time
is up; then :meth:`TaskStore.advance` (called before every request and every out-of-band
look) applies the change and the task is ``FINISHED``, or the change is refused (or a failure
was ordered with :meth:`TaskStore.fail_next`) and the task is ``ERROR`` with ``error`` set,
``created_resources`` null and nothing changed. Tasks spend the first half of their delay in
``NEW`` and the second in ``RUNNING``. No lock here: the caller holds the state's lock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from gcore_pulumi.testing.bodies import TaskQuery
from gcore_pulumi.testing.errors import ApiError, not_found

__all__ = ["TASK_TYPES", "Task", "TaskFailure", "TaskStore", "task_timestamp"]

#: The task types the security group endpoints create.
TASK_TYPES: tuple[str, ...] = (
    "create_security_group",
    "update_security_group",
    "create_security_group_rule",
    "delete_security_group_rule",
)
#: The user and client every emulated task belongs to.
_USER_ID = 1
_CLIENT_ID = 1

#: What a task does when it finishes: the ``created_resources`` it reports.
Apply = Callable[[], dict[str, list[str]]]


class TaskFailure(Exception):
    """Raised by a task's change to end the task in ``ERROR`` with this message."""


def task_timestamp(epoch: float) -> str:
    """A task time as Gcore's task examples show it: ``2026-05-23T05:07:31`` (UTC)."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass
class Task:
    """One task and the change it applies when it finishes."""

    id: str
    task_type: str
    project_id: int
    region_id: int
    request_id: str
    created: float
    start_at: float
    due_at: float
    apply: Apply
    data: Any = None
    forced_error: str | None = None
    sequence: int = 0
    state: str = "NEW"
    finished: float | None = None
    error: str | None = None
    created_resources: dict[str, list[str]] | None = field(default=None)

    @property
    def done(self) -> bool:
        """Whether the task has ended (``FINISHED`` or ``ERROR``)."""
        return self.finished is not None

    def state_at(self, now: float) -> str:
        """The state a reader sees at ``now``."""
        if self.done:
            return self.state
        return "NEW" if now < self.start_at else "RUNNING"

    def view(self, now: float) -> dict[str, Any]:
        """The task object of ``GET /cloud/v1/tasks/{task_id}``."""
        state = self.state_at(now)
        if self.finished is not None:
            updated = self.finished
        else:
            updated = self.start_at if now >= self.start_at else self.created
        return {
            "id": self.id,
            "task_type": self.task_type,
            "state": state,
            "detailed_state": state if self.done else None,
            "error": self.error,
            "created_on": task_timestamp(self.created),
            "updated_on": task_timestamp(updated),
            "finished_on": None if self.finished is None else task_timestamp(self.finished),
            "created_resources": self.created_resources,
            "project_id": self.project_id,
            "region_id": self.region_id,
            "request_id": self.request_id,
            "user_id": _USER_ID,
            "client_id": _CLIENT_ID,
            "user_client_id": _CLIENT_ID,
            "acknowledged_at": None,
            "acknowledged_by": None,
            "data": self.data,
            "job_id": None,
            "lifecycle_policy_id": None,
            "schedule_id": None,
        }


@dataclass
class _FailureOrder:
    task_type: str | None
    remaining: int
    error: str


class TaskStore:
    """Every task ever created, with its timing and ordered failures."""

    def __init__(
        self,
        delay: float = 0.05,
        delays: dict[str, float] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.delay = delay
        self.delays: dict[str, float] = dict(delays or {})
        self._clock = clock
        self._tasks: dict[str, Task] = {}
        self._pending: list[Task] = []
        self._failures: list[_FailureOrder] = []
        self._sequence = 0

    def delay_for(self, task_type: str) -> float:
        """Seconds a task of this type takes (its override in ``delays``, else ``delay``)."""
        return self.delays.get(task_type, self.delay)

    def create(
        self,
        task_id: str,
        task_type: str,
        project_id: int,
        region_id: int,
        request_id: str,
        apply: Apply,
        data: Any = None,
    ) -> Task:
        """Start a task; it finishes ``delay_for(task_type)`` seconds from now."""
        now = self._clock()
        delay = self.delay_for(task_type)
        self._sequence += 1
        task = Task(
            id=task_id,
            task_type=task_type,
            project_id=project_id,
            region_id=region_id,
            request_id=request_id,
            created=now,
            start_at=now + delay / 2,
            due_at=now + delay,
            apply=apply,
            data=data,
            forced_error=self._take_failure(task_type),
            sequence=self._sequence,
        )
        self._tasks[task.id] = task
        self._pending.append(task)
        return task

    def fail_next(self, task_type: str | None, times: int, error: str) -> None:
        """Make the next ``times`` tasks created (of ``task_type``, or any) end in ERROR."""
        if times < 1:
            raise ValueError(f"times must be >= 1, got {times}")
        if not error:
            raise ValueError("error must be a non-empty message")
        self._failures.append(_FailureOrder(task_type, times, error))

    def _take_failure(self, task_type: str) -> str | None:
        for order in self._failures:
            if order.remaining > 0 and order.task_type in (None, task_type):
                order.remaining -= 1
                return order.error
        return None

    def advance(self, until: float | None = None) -> None:
        """Finish, oldest due first, every task due by ``until`` (default: now)."""
        now = self._clock()
        limit = now if until is None else until
        due = sorted(
            (t for t in self._pending if t.due_at <= limit), key=lambda t: (t.due_at, t.sequence)
        )
        for task in due:
            self._finish(task, now)
        if due:
            self._pending = [t for t in self._pending if not t.done]

    def finish_all(self) -> None:
        """Finish every pending task now, whatever its delay."""
        self.advance(until=math.inf)

    def _finish(self, task: Task, now: float) -> None:
        task.finished = max(now, task.created)
        if task.forced_error is not None:
            task.state, task.error = "ERROR", task.forced_error
            return
        try:
            resources = task.apply()
        except TaskFailure as err:
            task.state, task.error = "ERROR", str(err)
            return
        except ApiError as err:
            task.state, task.error = "ERROR", err.message
            return
        task.state, task.created_resources = "FINISHED", resources

    def get(self, task_id: str) -> Task:
        """The task, or Gcore's 404."""
        task = self._tasks.get(task_id.lower())
        if task is None:
            raise not_found(f"Task {task_id} not found.")
        return task

    def all(self) -> list[Task]:
        """Every task, oldest first."""
        return list(self._tasks.values())

    def view(self, task: Task) -> dict[str, Any]:
        """The task as the API answers it now."""
        return task.view(self._clock())

    def select(self, query: TaskQuery) -> dict[str, Any]:
        """``GET /cloud/v1/tasks``: ``{"count": matching, "results": [one page]}``."""
        now = self._clock()

        def keep(task: Task) -> bool:
            created = datetime.fromtimestamp(math.floor(task.created), timezone.utc)
            return (
                (query.project_ids is None or task.project_id in query.project_ids)
                and (query.region_ids is None or task.region_id in query.region_ids)
                and (query.states is None or task.state_at(now) in query.states)
                and (query.task_type is None or task.task_type == query.task_type)
                and (query.from_timestamp is None or created >= query.from_timestamp)
                and (query.to_timestamp is None or created <= query.to_timestamp)
                and query.is_acknowledged is not True
            )

        matching = sorted(
            (t for t in self._tasks.values() if keep(t)),
            key=lambda t: (t.created, t.sequence),
            reverse=query.descending,
        )
        page = matching[query.offset : query.offset + query.limit]
        return {"count": len(matching), "results": [t.view(now) for t in page]}
