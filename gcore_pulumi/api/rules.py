"""Security-group rules: Gcore's v1 and v2 rule endpoints (``gcore:ruleApi``) as two
implementations of one ``RuleApi``, and the rule reads and deletes that use them.

v1 answers a create with the rule and a delete with nothing. v2 answers both with a task:
the rule exists (or is gone) when the task finishes, so a v2 create is read from the
group after its task, and a v2 delete waits for its task.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Final

from pydantic import ValidationError

from .. import hints
from ..errors import ApiError, BrokenAnswerError, CutOffAnswerError, GcoreError
from ..models import ApiRule, ApiTaskIds, RuleSpec
from ..ownership import OwnedRules
from ..tasks import TaskFailedError, TaskPendingError
from . import urls
from .answers import AmbiguousAnswer, broken_2xx, broken_reason
from .groups import GroupKey, Groups, read_made
from .retry import Retries
from .tasks import TASK_LOOKBACK, Tasks
from .transport import Transport

if TYPE_CHECKING:
    import requests

log = logging.getLogger("gcore_pulumi")

MAYBE_CREATED: Final = (
    "An earlier try may have created the rule: if the next `pulumi up` reports it as "
    "already existing (409), that is this rule; adopt it with adopt_existing=True, or delete it"
)


def maybe_created() -> str:
    """``MAYBE_CREATED`` as it fits where it runs (see ``hints``)."""
    return MAYBE_CREATED.replace("the next `pulumi up`", hints.next_up())


class RuleApi(ABC):
    """What differs between the v1 and v2 rule endpoints; everything else is shared."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    @abstractmethod
    def create_path(self, spec: RuleSpec) -> str:
        """Where a create of ``spec`` is POSTed."""

    @abstractmethod
    def create_body(self, spec: RuleSpec) -> dict[str, Any]:
        """The POST's body."""

    @abstractmethod
    def created(self, spec: RuleSpec, path: str, response: requests.Response) -> ApiRule:
        """The rule that an accepted (2xx) create made. v2: ``TaskFailedError`` when its
        task made nothing; ``AmbiguousAnswer`` when the answer was broken or (v2) the task
        could not be followed."""

    @abstractmethod
    def before_settling(self, spec: RuleSpec, path: str, since: datetime) -> None:
        """Let an earlier try's rule appear before the group is read for it."""

    @abstractmethod
    def rule_path(self, project_id: int, region_id: int, group_id: str, rule_id: str) -> str:
        """Where the rule is DELETEd."""

    @abstractmethod
    def deleted(self, key: GroupKey, rule_id: str, path: str, answer: Any) -> None:
        """After a DELETE's 2xx answer: make sure the rule is gone."""

    @abstractmethod
    def before_confirming(self, key: GroupKey, path: str, since: datetime) -> None:
        """After a DELETE whose answer broke: let its work end before the group is read."""


class V1Rules(RuleApi):
    """``/cloud/v1``: the create answers the rule itself; the delete is done when answered."""

    def create_path(self, spec: RuleSpec) -> str:
        return urls.rules_v1(spec.project_id, spec.region_id, spec.group_id)

    def create_body(self, spec: RuleSpec) -> dict[str, Any]:
        return spec.request_body()

    def created(self, spec: RuleSpec, path: str, response: requests.Response) -> ApiRule:
        try:
            return self._transport.parse(ApiRule, response, "POST", path, maybe_created())
        except BrokenAnswerError as broken:  # the rule may well have been made
            raise AmbiguousAnswer(broken_2xx(response, broken)) from None

    def before_settling(self, spec: RuleSpec, path: str, since: datetime) -> None:
        """Nothing to wait for: a v1 rule exists as soon as its POST is answered."""

    def rule_path(self, project_id: int, region_id: int, group_id: str, rule_id: str) -> str:
        return urls.rule_v1(project_id, region_id, rule_id)

    def deleted(self, key: GroupKey, rule_id: str, path: str, answer: Any) -> None:
        """Nothing to wait for: the rule is gone when the DELETE is answered."""

    def before_confirming(self, key: GroupKey, path: str, since: datetime) -> None:
        """Nothing to wait for: the rule is gone when the DELETE is answered."""


class V2Rules(RuleApi):
    """``/cloud/v2``: creates and deletes answer a task, and are done when it finishes."""

    def __init__(self, transport: Transport, tasks: Tasks, groups: Groups) -> None:
        super().__init__(transport)
        self._tasks = tasks
        self._groups = groups

    def create_path(self, spec: RuleSpec) -> str:
        return urls.rules_v2(spec.project_id, spec.region_id, spec.group_id)

    def create_body(self, spec: RuleSpec) -> dict[str, Any]:
        return spec.request_body_v2()

    def created(self, spec: RuleSpec, path: str, response: requests.Response) -> ApiRule:
        """Wait for the create's task and read the rule it made from the group."""
        answered = time.monotonic()
        task_id = self._tasks.first_of(response, "POST", path, maybe_created())
        task = self._tasks.follow(task_id, answered, maybe_created())
        made = task.created_resources.security_group_rules if task.created_resources else None
        key = (spec.project_id, spec.region_id, spec.group_id)
        if made:
            made_id = made[0]
            rule = read_made(
                lambda: self._find_made(key, made_id, answered),
                lambda: spec.provisional_rule(made_id),
                f"rule {made_id}",
                "its group",
            )
        else:
            rule = self._find_made(key, None, answered)
        if rule is None:
            raise ApiError(
                200,
                "GET",
                urls.task(task_id),
                "the task finished, but the rule it made is not in the group",
                hint=maybe_created(),
            )
        return rule

    def _find_made(self, key: GroupKey, made: str | None, answered: float) -> ApiRule | None:
        """Creates finishing together in one group share the read that follows them: any
        read sent after this POST was answered may hold the rule; if it does not, the
        group is read again, alone."""
        group = self._groups.fresh(key, answered)
        rule = group.find(made) if group is not None and made else None
        if rule is None and made:
            group = self._groups.get(*key)
            rule = group.find(made) if group is not None else None
        return rule

    def before_settling(self, spec: RuleSpec, path: str, since: datetime) -> None:
        """Wait for the project's rule-create tasks still running (one may be ours). If
        the task list cannot be read, go on: a rule posted again while ours is pending is
        refused by Gcore's duplicate check (409 or task ERROR), which settles the same way."""
        try:
            pending = self._tasks.pending(
                spec.project_id,
                spec.region_id,
                "create_security_group_rule",
                since.isoformat(timespec="seconds"),
            )
        except (TaskPendingError, TaskFailedError):
            raise
        except GcoreError as error:
            log.warning("gcore: POST %s: could not list Gcore's tasks (%s)", path, error)
            return
        self._tasks.wait_out(pending, hint=maybe_created())

    def rule_path(self, project_id: int, region_id: int, group_id: str, rule_id: str) -> str:
        return urls.rule_v2(project_id, region_id, group_id, rule_id)

    def deleted(self, key: GroupKey, rule_id: str, path: str, answer: Any) -> None:
        """Wait for the DELETE's tasks. A task that ends in ERROR because the rule is
        already gone (a retried DELETE's twin did it) counts as deleted."""
        try:
            tasks = ApiTaskIds.model_validate(answer).tasks
        except ValidationError:
            raise ApiError(200, "DELETE", path, "unexpected answer (no task list)") from None
        for task_id in tasks:
            try:
                self._tasks.wait(task_id)
            except TaskFailedError:
                if self._still_there(key, rule_id):
                    raise
        if not tasks and self._still_there(key, rule_id):  # no task: believe it if it is gone
            raise ApiError(
                200, "DELETE", path, "Gcore answered no task and the rule is still there"
            )

    def before_confirming(self, key: GroupKey, path: str, since: datetime) -> None:
        """Wait for the project's rule-delete tasks since ``since`` (one may be ours)."""
        project_id, region_id, _ = key
        stamp = since.isoformat(timespec="seconds")
        pending = self._tasks.pending(project_id, region_id, "delete_security_group_rule", stamp)
        self._tasks.wait_out(pending)

    def _still_there(self, key: GroupKey, rule_id: str) -> bool:
        group = self._groups.get(*key)
        return group is not None and group.find(rule_id) is not None


def rule_api(version: str, transport: Transport, tasks: Tasks, groups: Groups) -> RuleApi:
    """The rule endpoints ``gcore:ruleApi`` names."""
    return V2Rules(transport, tasks, groups) if version == "v2" else V1Rules(transport)


class Rules:
    """Reading and deleting rules; which rules this process's resources own is noted."""

    def __init__(self, api: RuleApi, transport: Transport, groups: Groups, owned: OwnedRules):
        self._api = api
        self._transport = transport
        self._groups = groups
        self._owned = owned

    def find(self, project_id: int, region_id: int, group_id: str, rule_id: str) -> ApiRule | None:
        """The live rule, or None if it or its group is gone (reads are coalesced). Reading
        is not owning: the caller records ownership (``SecurityGroupRuleProvider.read``)."""
        group = self._groups.shared((project_id, region_id, group_id), reader=rule_id.lower())
        return group.find(rule_id) if group is not None else None

    def delete(self, project_id: int, region_id: int, group_id: str, rule_id: str) -> bool:
        """Delete the rule; False if Gcore proved it (or its group) already gone. A DELETE
        is safe to send twice, so lost answers are retried; after an answer broken on the
        way, a read of the group says whether it was done (``_confirmed``)."""
        key = (project_id, region_id, group_id)
        path = self._api.rule_path(project_id, region_id, group_id, rule_id)
        retries: Retries | None = None
        try:
            with self._transport.operation():
                while True:
                    since = datetime.now(timezone.utc) - TASK_LOOKBACK
                    try:
                        response = self._transport.send("DELETE", path)
                        if self._groups.rule_gone(key, rule_id, response, path, time.monotonic()):
                            self._owned.discard(rule_id)
                            return False
                        answer = self._transport.expect(response, "DELETE", path)
                    except (BrokenAnswerError, CutOffAnswerError) as broken:
                        if self._confirmed(key, rule_id, path, since):
                            break
                        retries = retries or self._transport.retries()
                        cause = f"{broken_reason(broken)}, and the rule is still there"
                        self._transport.spend(retries, "DELETE", path, cause, None)
                        continue
                    self._api.deleted(key, rule_id, path, answer)
                    break
        finally:
            self._groups.invalidate(key)
        self._owned.discard(rule_id)
        return True

    def _confirmed(self, key: GroupKey, rule_id: str, path: str, since: datetime) -> bool:
        """After a DELETE whose answer broke: True once the rule is gone (v2: after the
        project's rule-delete tasks since ``since`` have ended), False if it is still there."""
        self._api.before_confirming(key, path, since)
        group = self._groups.fresh(key, time.monotonic())
        return group is None or group.find(rule_id) is None
