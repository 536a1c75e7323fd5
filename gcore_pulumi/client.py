"""The only door to Gcore's HTTP API: ``GcoreClient``, a facade over ``gcore_pulumi.api``.

Each public method hands its work to one module of ``api/``, which holds the how and why:

* ``retry``: the retry policy and the deadline, stated once (``PolicyRetry``, ``Retries``);
* ``diagnosis``: why a request got no answer, naming the host and what to check;
* ``urls``: every URL called; ``answers``: what an answer says (2xx, Gcore's error body);
* ``transport``: the one session, timeouts, send, expect, gone, parse, every page;
* ``tasks``: following Gcore's asynchronous tasks;
* ``groups``: group reads (coalesced), lists and deletes; ``group_update``: PATCHes
  (the task part, then tags) and adopting a group by id;
* ``rules``: the v1 and v2 rule endpoints as one ``RuleApi``, rule reads and deletes;
* ``rule_create`` and ``group_create``: creates that happen exactly once in effect.

Gone needs proof: a 404 with Gcore's error body counts as "already gone" only when a read of
the parent (the group for a rule, the group list for a group) answers 200 without it
(``groups``); anything else is an error naming ``gcore:baseUrl``.

The modules import ``requests`` and ``pydantic``; this module is imported lazily (at the
first call to Gcore), so a preview that sends nothing never loads them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import requests

from .api.group_create import CreatedGroup, GroupCreator
from .api.group_update import GroupUpdater
from .api.groups import Groups
from .api.locks import KeyedLocks
from .api.retry import (
    MIN_ANSWER_SECONDS,
    RETRY_STATUSES,
    DeadlineExceeded,
    PolicyRetry,
    _Operation,
    parse_retry_after,
)
from .api.rule_create import SNAPSHOT_MAX_AGE, Created, RuleCreator
from .api.rules import Rules, rule_api
from .api.tasks import Tasks
from .api.transport import USER_AGENT, Transport
from .models import ApiGroup, ApiGroupSummary, ApiRule, ApiTask, GroupSpec, RuleSpec
from .ownership import OwnedRules
from .settings import Settings

__all__ = [
    "MIN_ANSWER_SECONDS",
    "RETRY_STATUSES",
    "SNAPSHOT_MAX_AGE",
    "USER_AGENT",
    "Created",
    "CreatedGroup",
    "DeadlineExceeded",
    "GcoreClient",
    "PolicyRetry",
    "parse_retry_after",
]


class GcoreClient:
    """Gcore's security-group endpoints, with the retry policy of ``api.retry``."""

    def __init__(
        self,
        settings: Settings,
        session: requests.Session | None = None,
        owned: OwnedRules | None = None,
    ) -> None:
        self.owned = owned if owned is not None else OwnedRules()
        """Rules managed by resources of this process: never adopted for another one."""
        self._transport = Transport(settings, session)
        self._tasks = Tasks(settings, self._transport)
        self._groups = Groups(settings, self._transport, self._tasks)
        api = rule_api(settings.rule_api, self._transport, self._tasks, self._groups)
        self._rules = Rules(api, self._transport, self._groups, self.owned)
        twins = KeyedLocks()
        self._rule_creates = RuleCreator(api, self._transport, self._groups, self.owned, twins)
        self._group_creates = GroupCreator(
            settings, self._transport, self._tasks, self._groups, twins
        )
        self._group_updates = GroupUpdater(self._transport, self._tasks, self._groups)

    def close(self) -> None:
        self._transport.close()

    # --- rules ------------------------------------------------------------------------

    def find_rule(
        self, project_id: int, region_id: int, group_id: str, rule_id: str
    ) -> ApiRule | None:
        """The live rule, or None if it or its group is gone (reads are coalesced). Reading
        is not owning: the caller records ownership (see ``SecurityGroupRuleProvider.read``)."""
        return self._rules.find(project_id, region_id, group_id, rule_id)

    def create_rule(self, spec: RuleSpec) -> Created:
        """POST the rule exactly once in effect: never a duplicate, never a lost rule, and
        never a rule that was there before (unless ``adopt_existing``)."""
        return self._rule_creates.create(spec)

    def delete_rule(self, project_id: int, region_id: int, group_id: str, rule_id: str) -> bool:
        """Delete the rule; False if Gcore says it (or its group) was already gone."""
        return self._rules.delete(project_id, region_id, group_id, rule_id)

    # --- groups -----------------------------------------------------------------------

    def get_group(self, project_id: int, region_id: int, group_id: str) -> ApiGroup | None:
        """The group with its rules, read now; None if Gcore says the group is gone."""
        return self._groups.get(project_id, region_id, group_id)

    def list_groups(
        self, project_id: int, region_id: int, name: str | None = None
    ) -> list[ApiGroupSummary]:
        """Every group of the project and region (only those named exactly ``name``)."""
        return self._groups.list(project_id, region_id, name)[0]

    def find_groups(
        self,
        project_id: int,
        region_id: int,
        name: str | None = None,
        tag_keys: Sequence[str] = (),
        tag_key_value: Mapping[str, str] | None = None,
    ) -> list[ApiGroup]:
        """Every group matching all the filters given, each whole (rules included)."""
        return self._groups.find(project_id, region_id, name, tag_keys, tag_key_value or {})

    def create_group(self, spec: GroupSpec) -> CreatedGroup:
        """Create the group with ``spec.rules`` (none when not given) in one POST, exactly
        once in effect: never two groups, never one the stack does not know about."""
        return self._group_creates.create(spec)

    def adopt_group(self, spec: GroupSpec) -> ApiGroup:
        """Take over the existing group ``spec.adopt_id`` (no POST) and bring it to ``spec``
        (see ``api.group_update``); NotFoundError naming the id when it does not exist."""
        return self._group_updates.adopt(spec)

    def update_group(
        self, project_id: int, region_id: int, group_id: str, patch: dict[str, Any]
    ) -> ApiGroup:
        """PATCH the group (v2): name, description and rules first, waiting for their
        task, then tags; then read it back (see ``api.group_update``)."""
        return self._group_updates.update(project_id, region_id, group_id, patch)

    def delete_group(self, project_id: int, region_id: int, group_id: str) -> bool:
        """Delete the group (v1) and with it its rules; False if it was already gone."""
        return self._groups.delete(project_id, region_id, group_id)

    # --- tasks and plumbing -----------------------------------------------------------

    def wait_for_task(
        self, task_id: str, *, started: float | None = None, hint: str | None = None
    ) -> ApiTask:
        """Poll a task until it ends: FINISHED returns it, ERROR raises ``TaskFailedError``
        (see ``api.tasks.Tasks.wait``)."""
        return self._tasks.wait(task_id, started=started, hint=hint)

    def _operation(self) -> AbstractContextManager[_Operation]:
        """One operation under ``gcore:deadline`` (see ``api.retry.operation``)."""
        return self._transport.operation()

    @property
    def _session(self) -> requests.Session:
        return self._transport.session

    def _timeouts(self, method: str) -> tuple[float, float]:
        return self._transport.timeouts(method)

    def _send(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> requests.Response:
        return self._transport.send(method, path, body)
