"""A group create, exactly once in effect: never two groups, never one the stack does not
know about.

Gcore's v2 group writes are asynchronous: they answer task ids, and the change happens when
the task finishes. The v2 create is not idempotent and Gcore has no duplicate check for
groups (names need not be unique), so after an ambiguous failure the create finds out
whether the earlier try made the group before posting again:

1. before the POST, note the ids of the groups that already have the name, and Gcore's
   clock (the answer's Date header);
2. after a 5xx, a timeout, a dropped connection or a 2xx answer broken on the way, wait
   until every create_security_group task of the project and region started since shortly
   before the POST has ended (a group appears only when its task finishes, so "not listed
   yet" is not "never made");
3. list the groups with the name again: one with the requested description and tags (and
   rule set, when the group owns its rules) that was not there before is the earlier try's
   and is adopted; none means nothing was made, so the POST is sent again; more than one is
   reported, naming them.

A 429 changes nothing and is simply retried. Every step shares the operation's deadline,
and nothing is sent once it has passed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal
from urllib.parse import quote

from .. import hints
from ..errors import ApiError, GcoreError, NotFoundError, TransportError
from ..models import ApiGroup, ApiGroupSummary, GroupSpec
from ..settings import Settings
from . import urls
from .answers import AmbiguousAnswer, asked_where, succeeded
from .groups import Groups, read_made
from .locks import KeyedLocks
from .retry import LONG_WAIT, DeadlineExceeded, Retries, remaining
from .tasks import TASK_LOOKBACK, Tasks
from .transport import Transport

if TYPE_CHECKING:
    import requests

log = logging.getLogger("gcore_pulumi")

_LATE_WATCH_MAX: Final = 10.0
"""Longest look for the group of a try that got no answer, before posting again."""
_WATCH_STEP: Final = 0.25
"""Seconds between looks for a group (or its task) that a try without answer may still make."""
_NO_GROUP_MADE: Final = "No group was made (checked), so none is left behind"


@dataclass(frozen=True)
class CreatedGroup:
    """A created (or, after a lost answer, adopted) group and how it came to be."""

    group: ApiGroup
    how: Literal["created", "reconciled"] = "created"


@dataclass
class _Attempt:
    """One group create under way: what it asks for, where, the groups of that name that
    were there before (``known``), since when (Gcore's clock) its task may date, its retry
    budget, and whether it has POSTed more than once."""

    spec: GroupSpec
    path: str
    known: set[str]
    since: str
    retries: Retries
    retried: bool = False


@dataclass(frozen=True)
class _Failed:
    """A try that may or may not have made the group."""

    cause: str
    response: requests.Response | None
    unanswered: bool = False
    """No answer at all: Gcore may not have handled the try yet."""


class GroupCreator:
    """Creates groups (v2) exactly once in effect."""

    def __init__(
        self,
        settings: Settings,
        transport: Transport,
        tasks: Tasks,
        groups: Groups,
        twins: KeyedLocks,
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._tasks = tasks
        self._groups = groups
        self._twins = twins

    def create(self, spec: GroupSpec) -> CreatedGroup:
        """Create the group with its declared rules (none when ``spec.rules`` is None),
        exactly once in effect (see the module).

        Identical groups declared twice in one program are created one after the other: the
        second lists the groups after the first is made, so it counts that group as one that
        was there before and never takes it for its own.
        """
        identity = ("group", spec.project_id, spec.region_id, spec.name, spec.description,
                    tuple(sorted(spec.tags.items())))  # fmt: skip
        with self._twins.hold(identity), self._transport.operation():
            before, gcore_now = self._groups.list(spec.project_id, spec.region_id, spec.name)
            attempt = _Attempt(
                spec,
                urls.groups_v2(spec.project_id, spec.region_id),
                known={group.id for group in before},
                since=(gcore_now - TASK_LOOKBACK).isoformat(timespec="seconds"),
                retries=self._transport.retries(),
            )
            while True:
                outcome = self._try(attempt)
                if isinstance(outcome, _Failed):
                    outcome = self._settle(attempt, outcome)
                if outcome is not None:
                    return outcome

    def _try(self, attempt: _Attempt) -> CreatedGroup | _Failed | None:
        """One POST: the group it made, a failure that may have made one, or None after a
        429 (waited for as the policy says; nothing was made)."""
        spec, path = attempt.spec, attempt.path
        try:
            response = self._transport.send("POST", path, spec.create_body())
        except TransportError as error:
            if not error.maybe_sent:
                raise
            return _Failed(error.reason, None, unanswered=True)
        if succeeded(response):
            answered = time.monotonic()
            try:
                group = self._new_group(spec, response, path, answered)
            except AmbiguousAnswer as lost:  # accepted, but its outcome unknown: settle
                return _Failed(lost.reason, None)
            if attempt.retried:
                self._warn_of_late_twins(spec, attempt.known, group.id)
            return CreatedGroup(group)
        if response.status_code == 429:
            self._transport.spend(attempt.retries, "POST", path, "HTTP 429", response)
            return None
        if response.status_code < 500:
            where = asked_where(spec.project_id, spec.region_id)
            self._transport.expect(response, "POST", path, if_gone=where)
        return _Failed(f"HTTP {response.status_code}", response)

    def _settle(self, attempt: _Attempt, failed: _Failed) -> CreatedGroup | None:
        """After an ambiguous try: the group it made, adopted; or None to post again; or
        the failure, when no try or no time is left (no group made: checked)."""
        path, response = attempt.path, failed.response
        # The try may still be on its way through Gcore. Wait as the retry policy says,
        # then find out what it did; only then may it be sent again.
        spent = attempt.retries.spent
        if not spent:
            attempt.retries.count("POST", path, response)
            try:
                attempt.retries.wait(response)
            except DeadlineExceeded:
                spent = True
        # A try that got no answer may not have reached Gcore's task queue yet: watch
        # for it up to two read timeouts (10 s at most) before posting again.
        watch = min(2 * self._settings.timeout, _LATE_WATCH_MAX) if failed.unanswered else 0.0
        found = self._made_by_earlier_try(attempt, failed.cause, watch)
        if found is not None:
            log.warning(
                "gcore: POST %s got %s, but it did create group %s; adopting it",
                path,
                failed.cause,
                found.id,
            )
            return CreatedGroup(found, "reconciled")
        if spent:
            if response is not None:
                self._transport.expect(response, "POST", path, hint=_NO_GROUP_MADE)
            raise TransportError(
                "POST", path, f"{failed.cause}; no retries or time left. {_NO_GROUP_MADE}"
            )
        attempt.retried = True
        log.warning(
            "gcore: POST %s got %s; no group was made (checked); posting again (retry %d of %d)",
            path,
            failed.cause,
            attempt.retries.tries,
            self._settings.max_retries,
        )
        return None

    def _new_group(
        self, spec: GroupSpec, response: requests.Response, path: str, answered: float
    ) -> ApiGroup:
        """The group an accepted create made: wait for its task, then read it."""
        task_id = self._tasks.first_of(response, "POST", path)
        hint = (
            f"Gcore accepted the create (task {task_id}): once the task finishes, a group named "
            f"{spec.name!r} exists that this stack does not record. {self._delete_it(spec)} "
            f"before {hints.next_up()}, which would make another"
        )
        task = self._tasks.follow(task_id, answered, hint)
        made = task.created_resources.security_groups if task.created_resources else None
        if not made:
            raise ApiError(
                200,
                "GET",
                urls.task(task_id),
                "the task finished without naming the group it made",
                hint=hint,
            )
        return self._read_new_group(spec, made[0])

    def _delete_it(self, spec: GroupSpec) -> str:
        """How to delete a group this create made and the stack does not record: in the
        console under the CLI; under the runner (no console with the emulator) with curl."""
        if not hints.under_runner():
            return "Delete it (Gcore console)"
        where = self._settings.base_url + urls.groups(spec.project_id, spec.region_id)
        listing = hints.curl(f"{where}?name={quote(spec.name, safe='')}")
        return f"Delete it ({listing} lists it; {hints.curl(f'{where}/<id>', 'DELETE')} deletes it)"

    def _read_new_group(self, spec: GroupSpec, group_id: str) -> ApiGroup:
        """The group this create made, read now; if it cannot be read, what it must be
        (the stack records it either way: never an orphan)."""
        group = read_made(
            lambda: self._groups.get(spec.project_id, spec.region_id, group_id),
            lambda: ApiGroup.provisional(group_id, spec),
            f"group {group_id}",
            "it",
        )
        if group is None:
            read = urls.group(spec.project_id, spec.region_id, group_id)
            raise NotFoundError(404, "GET", read, "the new group is gone already")
        return group

    def _made_by_earlier_try(
        self, attempt: _Attempt, cause: str, watch: float = 0.0
    ) -> ApiGroup | None:
        """After an ambiguous POST: the group it made, or None if it made none.

        ``watch``: after a try that got no answer at all, Gcore may not have handled it yet;
        keep looking (for its task, then its group) this many seconds before deciding that
        it made nothing.
        """
        spec = attempt.spec
        start = time.monotonic()
        until, said = start + watch, False
        try:
            while True:
                self._tasks.wait_out(
                    self._tasks.pending(
                        spec.project_id, spec.region_id, "create_security_group", attempt.since
                    )
                )
                fresh = self._new_twins(spec, attempt.known)
                now = time.monotonic()
                if fresh or now >= until or remaining() < 2 * _WATCH_STEP:
                    break
                if not said and now - start + _WATCH_STEP > LONG_WAIT:
                    said = True
                    log.warning(
                        "gcore: POST %s got %s; still looking for a group it may have made "
                        "(up to %.0fs more) before posting again",
                        attempt.path,
                        cause,
                        until - now,
                    )
                time.sleep(_WATCH_STEP)
        except GcoreError as error:
            raise TransportError(
                "POST",
                attempt.path,
                f"{cause}, and whether that try made the group could not be checked "
                f"({error}). Look for a group named {spec.name!r} in project {spec.project_id}, "
                f"region {spec.region_id} before {hints.next_up()}, and delete it if it is "
                "there (this stack does not record it)",
            ) from None
        if len(fresh) > 1:
            ids = ", ".join(sorted(group.id for group in fresh))
            raise TransportError(
                "POST",
                attempt.path,
                f"{cause}; since then {len(fresh)} groups named {spec.name!r} with this "
                f"description and tags have appeared ({ids}), so which one this create made is "
                "unclear. This stack records none of them: delete the ones you do not want and "
                f"{hints.up_again()}",
            )
        if not fresh:
            return None
        return self._read_new_group(spec, fresh[0].id)

    def _warn_of_late_twins(self, spec: GroupSpec, known: set[str], made: str) -> None:
        """After a create that took more than one POST: a second new group with this name,
        description and tags can only be an earlier try that Gcore handled after it was
        checked (or someone else's at the same moment). It is not deleted (it may not be
        ours), but named, so it is not left unnoticed."""
        try:
            late = [g.id for g in self._new_twins(spec, known) if g.id != made]
        except GcoreError as error:
            log.warning("gcore: group %s made; could not check for a late twin (%s)", made, error)
            return
        if late:
            log.warning(
                "gcore: group %s made, but %s with the same name, description and tags also "
                "appeared since (an earlier try that Gcore handled late, or someone else's): "
                "this stack does not record it; delete it if it is not yours",
                made,
                ", ".join(sorted(late)),
            )

    def _new_twins(self, spec: GroupSpec, known: set[str]) -> list[ApiGroupSummary]:
        """Groups matching ``spec`` that were not there before and no resource here owns."""
        return [
            group
            for group in self._groups.list(spec.project_id, spec.region_id, spec.name)[0]
            if group.id not in known and spec.matches(group)
        ]
