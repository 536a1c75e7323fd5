"""Group updates and adoptions, in the order that leaves Gcore as the stack says.

Gcore's v2 group PATCH applies ``tags`` at once and ``name``, ``description`` and ``rules``
(the complete set) by a task. An update sends them as two PATCHes: first name,
description and rules, waiting for their task; only once it finished, the tags. So a task
that fails leaves Gcore with the old tags too, as the stack keeps them (issue 15 item 5).
Then the group is read back: Gcore may give kept rules new ids, so none are assumed.

A PATCH is desired state: the same body sent twice gives the same group. An answer that
is lost (no answer, a 5xx) or broken on the way (a 2xx that is not Gcore's JSON) is
therefore settled by waiting until the group's update tasks started since shortly before
the PATCH have ended, re-reading the group and comparing it with the body: done when
Gcore has it all, sent again (under the retry budget and the deadline) when not. A 429
changed nothing and is simply retried.

Adopting (``adopt_id``): read the group (missing: fail naming the id; nothing is made),
then PATCH it from what it holds to what the program declares, in the same two steps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Final

from .. import hints
from ..errors import GcoreError, NotFoundError, TransportError
from ..group_schema import group_patch
from ..models import ApiGroup, ApiTaskIds, GroupSpec, user_tags
from ..rule_set import RULES_KEY, live_rules_output, rules_differ
from . import urls
from .answers import succeeded
from .groups import GroupKey, Groups, group_404, group_gone
from .retry import RETRY_STATUSES
from .tasks import TASK_LOOKBACK, TaskLost, Tasks
from .transport import Transport

if TYPE_CHECKING:
    import requests

log = logging.getLogger("gcore_pulumi")

_UPDATE_TASK: Final = "update_security_group"
_NOT_APPLIED: Final = (
    "Gcore does not have this change (checked after the try): the stack keeps the old "
    "values; run `pulumi up` again"
)
_MAY_BE_APPLIED: Final = (
    "Gcore may already have this change (it accepted the PATCH; whether the change is in "
    "effect could not be checked), while the stack keeps the old values: run `pulumi "
    "refresh` to see the group as it is, then `pulumi up`"
)


def _not_applied() -> str:
    """``_NOT_APPLIED`` as it fits where it runs (see ``hints``)."""
    return _NOT_APPLIED.replace("run `pulumi up` again", hints.up_again())


class GroupUpdater:
    """PATCHes groups (v2): the task part first, then the tags; lost answers settled."""

    def __init__(self, transport: Transport, tasks: Tasks, groups: Groups) -> None:
        self._transport = transport
        self._tasks = tasks
        self._groups = groups

    def update(
        self, project_id: int, region_id: int, group_id: str, patch: Mapping[str, Any]
    ) -> ApiGroup:
        """Apply ``patch`` (name, description, rules; then tags), then read the group."""
        key: GroupKey = (project_id, region_id, group_id)
        path = urls.group_v2(*key)
        first = {k: v for k, v in patch.items() if k != "tags"}
        then = {"tags": patch["tags"]} if "tags" in patch else {}
        try:
            with self._transport.operation():
                for part in (first, then):
                    if part:
                        self._patch(key, path, part)
                group = self._groups.get(*key)
        finally:
            self._groups.invalidate(key)
        if group is None:
            read = urls.group(*key)
            raise NotFoundError(404, "GET", read, "the group is gone", hint=group_gone())
        return group

    def adopt(self, spec: GroupSpec) -> ApiGroup:
        """Take over the existing group ``spec.adopt_id``: no POST; PATCH it to ``spec``
        (as ``update``: the task part, then the tags), then read it. Nothing to change:
        the one read is all."""
        assert spec.adopt_id is not None
        key: GroupKey = (spec.project_id, spec.region_id, spec.adopt_id)
        live = self._groups.get(*key)
        if live is None:
            raise NotFoundError(
                404,
                "GET",
                urls.group(*key),
                f"no security group {spec.adopt_id} to adopt in project {spec.project_id}, "
                f"region {spec.region_id}; check adopt_id",
                hint="",
            )
        patch = group_patch(held_state(live, spec.rules is not None), spec.model_dump())
        if not patch:
            return live
        log.info("gcore: adopting group %s: %s", live.id, ", ".join(sorted(patch)))
        return self.update(*key, patch)

    def _patch(self, key: GroupKey, path: str, body: dict[str, Any]) -> None:
        """One PATCH in effect, and its tasks waited for (see the module)."""
        since = (datetime.now(timezone.utc) - TASK_LOOKBACK).isoformat(timespec="seconds")
        retries = self._transport.retries()
        while True:
            failed = self._try(path, body)
            if failed is None:
                return
            cause, response = failed
            unchanged = response is not None and response.status_code == 429
            if not unchanged and self._applied(key, path, body, since, cause):
                return
            self._transport.spend(
                retries,
                "PATCH",
                path,
                cause,
                response,
                hint=_not_applied(),
            )

    def _try(self, path: str, body: dict[str, Any]) -> tuple[str, requests.Response | None] | None:
        """Send once and wait for the answered tasks: None when done, else why the try is
        ambiguous and the answer to retry after (a 429 or 5xx; None: no usable answer). A
        task whose polls were lost or answered by something else (a proxy) is ambiguous too:
        Gcore accepted the PATCH and may have applied it."""
        try:
            response = self._transport.send("PATCH", path, body)
        except TransportError as error:
            if not error.maybe_sent:
                raise
            return error.reason, None
        if response.status_code in RETRY_STATUSES:
            return f"HTTP {response.status_code}", response
        if not succeeded(response):
            self._transport.expect(response, "PATCH", path, if_gone=group_404())
        try:
            answer = self._transport.parse(ApiTaskIds, response, "PATCH", path)
        except GcoreError as broken:  # a 2xx broken on the way: Gcore may have done it
            reason = getattr(broken, "message", str(broken))
            return f"HTTP {response.status_code} with a broken body: {reason}", None
        answered = time.monotonic()
        for task_id in answer.tasks:
            try:
                self._tasks.follow(task_id, answered, _MAY_BE_APPLIED)
            except TaskLost as lost:
                return lost.reason, None
        return None

    def _applied(
        self, key: GroupKey, path: str, body: dict[str, Any], since: str, cause: str
    ) -> bool:
        """After an ambiguous try: wait until the update tasks since ``since`` have ended,
        then whether the group holds everything ``body`` asks for. When Gcore's answers do
        not say (a proxy answers, the deadline comes), the failure says that Gcore may
        already have the change."""
        project_id, region_id, _ = key
        try:
            self._tasks.wait_out(self._tasks.pending(project_id, region_id, _UPDATE_TASK, since))
            self._groups.invalidate(key)
            group = self._groups.get(*key)
        except GcoreError as error:
            reason = f"{cause}; then the check whether Gcore has the change failed: {error}"
            raise TransportError("PATCH", path, f"{reason}. {_MAY_BE_APPLIED}") from error
        if group is None:
            read = urls.group(*key)
            raise NotFoundError(404, "GET", read, "the group is gone", hint=group_gone())
        done = holds(group, body)
        log.warning(
            "gcore: PATCH %s got %s; %s",
            path,
            cause,
            "Gcore has the change (checked)" if done else "Gcore does not have it; sending again",
        )
        return done


def held_state(group: ApiGroup, with_rules: bool) -> dict[str, Any]:
    """What a group holds, as ``group_patch`` compares it: name, description, user tags,
    and (``with_rules``: when its rules are managed) its rules."""
    rules = None
    if with_rules:
        rules = live_rules_output([rule.model_dump() for rule in group.security_group_rules])
    return {
        "name": group.name or "",
        "description": group.description or "",
        "tags": user_tags(group.tags_v2),
        RULES_KEY: rules,
    }


def holds(group: ApiGroup, body: Mapping[str, Any]) -> bool:
    """True when ``group`` has everything the PATCH ``body`` asks for."""
    held = held_state(group, RULES_KEY in body)
    if any(key in body and held[key] != body[key] for key in ("name", "description")):
        return False
    if RULES_KEY in body and rules_differ(held[RULES_KEY], body[RULES_KEY]):
        return False
    tags = held["tags"]
    return all(tags.get(k) == v for k, v in (body.get("tags") or {}).items())
