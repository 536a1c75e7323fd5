"""What each Gcore endpoint does to the emulated cloud, apart from HTTP.

:class:`CloudState` owns the three stores (groups, rules, tasks) and one re-entrant lock
(kept with the steps every endpoint shares in :mod:`~gcore_pulumi.testing.service_core`); the
rule endpoints live in :mod:`~gcore_pulumi.testing.service_rules`, the group endpoints in
:mod:`~gcore_pulumi.testing.service_groups`, the task reads and out-of-band controls here.
Each public method is one endpoint's behaviour: it checks the request in Gcore's order,
raises :class:`~gcore_pulumi.testing.errors.ApiError` for an error answer and returns the
answer's JSON otherwise. Asynchronous (v2) endpoints check what Gcore checks at once, then
return ``{"tasks": [id]}``; the change itself is made when the task finishes, and is checked
again then (the group may be gone, a twin rule may have appeared), so a late problem ends
the task in ``ERROR`` with nothing changed.
"""

from __future__ import annotations

from typing import Any

from gcore_pulumi.testing.bodies import TaskQuery
from gcore_pulumi.testing.resources import Group, api_timestamp
from gcore_pulumi.testing.service_core import DUPLICATE_MODES, DuplicateMode
from gcore_pulumi.testing.service_groups import DEFAULT_TEMPLATE, GroupEndpoints
from gcore_pulumi.testing.service_rules import RuleEndpoints

__all__ = [
    "DEFAULT_TEMPLATE",
    "DUPLICATE_MODES",
    "CloudState",
    "DuplicateMode",
    "check_duplicate_mode",
]


class CloudState(RuleEndpoints, GroupEndpoints):
    """The emulated cloud: groups, rules and tasks behind one lock."""

    # -- tasks ------------------------------------------------------------------------------
    def get_task(self, task_id: str) -> dict[str, Any]:
        """``GET /cloud/v1/tasks/{task_id}``."""
        return self.tasks.view(self.tasks.get(task_id))

    def list_tasks(self, query: TaskQuery) -> dict[str, Any]:
        """``GET /cloud/v1/tasks``."""
        return self.tasks.select(query)

    # -- out of band ------------------------------------------------------------------------
    def add_group(
        self,
        project_id: int,
        region_id: int,
        name: str,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> Group:
        """Create a group at once, as if made earlier in the console."""
        now = api_timestamp()
        group = Group(
            id=self.ids.new(),
            name=name,
            project_id=project_id,
            region_id=region_id,
            created_at=now,
            updated_at=now,
            description=description or "",
            tags=dict(tags or {}),
        )
        return self.groups.add(group)

    def known_group(self, group_id: str) -> Group:
        """The group in any project and region (KeyError if unknown)."""
        group = self.groups.find(group_id)
        if group is None:
            raise KeyError(f"security group {group_id} does not exist")
        return group

    def drop_group(self, group_id: str) -> None:
        """Delete a group and its rules, whatever its state (KeyError if unknown)."""
        self._drop_group(self.known_group(group_id))

    def remove_rule(self, rule_id: str) -> None:
        """Delete a rule (KeyError if unknown)."""
        if self.rules.get(rule_id) is None:
            raise KeyError(f"security group rule {rule_id} does not exist")
        self._remove(rule_id)


def check_duplicate_mode(mode: object) -> DuplicateMode:
    """``mode`` if it is a duplicate mode, else ValueError naming the choices."""
    for choice in DUPLICATE_MODES:
        if mode == choice:
            return choice
    raise ValueError(f"duplicate_mode must be one of {DUPLICATE_MODES}, got {mode!r}")
