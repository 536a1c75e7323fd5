"""Following Gcore's tasks: wait for one (polled at ``tasks.poll_offsets``), list the ones
still running, and follow the task that an accepted create answered.

When to poll and what an ended task means are pure, and live in ``gcore_pulumi.tasks``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from ..errors import BrokenAnswerError, GcoreError
from ..models import ApiTask, ApiTaskIds, ApiTaskPage
from ..tasks import PENDING_STATES, TaskFailedError, TaskPendingError, poll_offsets
from . import urls
from .answers import AmbiguousAnswer, broken_2xx, succeeded, unexpected
from .transport import PAGE_SIZE, Transport

if TYPE_CHECKING:
    import requests

    from ..settings import Settings

log = logging.getLogger("gcore_pulumi")

TASK_LOOKBACK: Final = timedelta(seconds=60)
"""How long before the POST (by Gcore's clock) a create task may date and still be ours."""
_LAST_POLL_MARGIN: Final = 0.05
"""The last poll of a task comes this long before the deadline, leaving it time to answer."""
_TASK_UNKNOWN: Final = (
    "Gcore does not know this task (was it made in another region's API?), or gcore:baseUrl "
    "is not Gcore's API root (Gcore answers the same 404 for a URL it does not serve)"
)


class TaskLost(AmbiguousAnswer):
    """A create's task could not be followed: the create is ambiguous."""


class Tasks:
    """Gcore's task endpoints, polled under the operation's deadline."""

    def __init__(self, settings: Settings, transport: Transport) -> None:
        self._settings = settings
        self._transport = transport

    def wait(
        self, task_id: str, *, started: float | None = None, hint: str | None = None
    ) -> ApiTask:
        """Poll a task until it ends: FINISHED returns it, ERROR raises ``TaskFailedError``.

        Polls come at ``tasks.poll_offsets`` after ``started`` (a ``time.monotonic()``
        reading, by default now), each a GET under the retry policy, within the operation's
        deadline (``TaskPendingError`` when it comes first, with ``hint`` appended). A task
        still running after ``gcore:taskNoticeAfter`` seconds gets one log line.
        """
        path = urls.task(task_id)
        with self._transport.operation() as operation:
            start = time.monotonic() if started is None else started
            last_poll = -math.inf
            state = "NEW"
            noticed = False
            for offset in poll_offsets(self._settings.task_poll_max):
                wake = min(start + offset, operation.deadline - _LAST_POLL_MARGIN)
                if wake <= last_poll:
                    raise TaskPendingError(task_id, state, time.monotonic() - start, hint)
                pause = wake - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                last_poll = wake
                task = self._poll(path)
                if task.state == "FINISHED":
                    return task
                if task.state == "ERROR":
                    raise TaskFailedError(task.id, task.task_type, task.error)
                state = task.state
                age = time.monotonic() - start
                if not noticed and age >= self._settings.task_notice_after:
                    noticed = True
                    log.warning(
                        "gcore: task %s (%s) is still %s after %.0fs; waiting for it "
                        "(up to gcore:deadline)",
                        task_id,
                        task.task_type or "?",
                        state,
                        age,
                    )
        raise AssertionError("poll_offsets is endless")  # pragma: no cover

    def _poll(self, path: str) -> ApiTask:
        response = self._transport.send("GET", path)
        if not succeeded(response):
            self._transport.expect(response, "GET", path, if_gone=_TASK_UNKNOWN)
        return self._transport.parse(ApiTask, response, "GET", path)

    def pending(self, project_id: int, region_id: int, task_type: str, since: str) -> list[ApiTask]:
        """Tasks of this type in the project and region, created since ``since`` (an ISO
        time by Gcore's clock), that have not ended yet."""
        query: dict[str, Any] = {
            "project_id": project_id,
            "region_id": region_id,
            "task_type": task_type,
            "state": list(PENDING_STATES),
            "from_timestamp": since,
            "limit": PAGE_SIZE,
        }
        tasks: list[ApiTask] = self._transport.every(ApiTaskPage, urls.TASKS, query)[0]
        return [
            task
            for task in tasks
            if task.state in PENDING_STATES
            and task.task_type in (None, task_type)
            and task.project_id in (None, project_id)
            and task.region_id in (None, region_id)
        ]

    def wait_out(self, tasks: Iterable[ApiTask], hint: str | None = None) -> None:
        """Wait until each of ``tasks`` has ended, however it ends (one may be a create's
        own, whose outcome is then read from the group)."""
        for task in tasks:
            with contextlib.suppress(TaskFailedError):
                self.wait(task.id, hint=hint)

    def first_of(
        self, response: requests.Response, method: str, path: str, hint: str | None = None
    ) -> str:
        """The task id that an accepted write answered; ``AmbiguousAnswer`` when that
        answer was broken on the way (the write may have been done)."""
        try:
            tasks = self._transport.parse(ApiTaskIds, response, method, path, hint).tasks
        except BrokenAnswerError as broken:
            raise AmbiguousAnswer(broken_2xx(response, broken)) from None
        if not tasks:
            raise unexpected(response, method, path, "no task id in the answer", hint)
        return tasks[0]

    def follow(self, task_id: str, started: float, hint: str | None) -> ApiTask:
        """Wait for an accepted create's task. ``TaskFailedError`` (it made nothing) and
        ``TaskPendingError`` (the deadline came) are answers; a task whose polls were lost
        or answered by something else raises ``TaskLost``: the create then settles as
        after any ambiguous failure."""
        try:
            return self.wait(task_id, started=started, hint=hint)
        except (TaskFailedError, TaskPendingError):
            raise
        except GcoreError as error:
            raise TaskLost(f"task {task_id} could not be followed ({error})") from None
