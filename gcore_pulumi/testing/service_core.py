"""The emulated cloud's stores and the steps every endpoint shares.

:class:`CloudCore` owns the three stores (groups, rules, tasks) and one re-entrant lock; the
endpoint mixins (:mod:`~gcore_pulumi.testing.service_rules`,
:mod:`~gcore_pulumi.testing.service_groups`) and :class:`~gcore_pulumi.testing.service.CloudState`
build on it. Methods here expect the lock to be held.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal, get_args

from gcore_pulumi.testing.errors import not_found, validation_error
from gcore_pulumi.testing.neutron import RuleSpec, RuleValidationError, duplicate_key
from gcore_pulumi.testing.resources import Group, GroupStore, IdSource, RuleStore
from gcore_pulumi.testing.tasks import TaskFailure, TaskStore

__all__ = ["DUPLICATE_MODES", "CloudCore", "DuplicateMode"]

#: How a duplicate v2 rule create is refused: ``"409"`` at once (as v1 does), or
#: ``"task_error"``: the POST gets a task that ends in ERROR.
DuplicateMode = Literal["409", "task_error"]
DUPLICATE_MODES: tuple[DuplicateMode, ...] = get_args(DuplicateMode)


Resources = dict[str, list[str]]


def resources(groups: Sequence[str] = (), rules: Sequence[str] = ()) -> Resources:
    return {"security_groups": list(groups), "security_group_rules": list(rules)}


def duplicate_message(rule_id: str) -> str:
    return f"Security group rule already exists. Rule id is {rule_id}."


class CloudCore:
    """The emulated cloud's stores behind one lock, and the steps endpoints share."""

    def __init__(
        self,
        seed: int | None = None,
        task_delay: float = 0.05,
        task_delays: dict[str, float] | None = None,
        duplicate_mode: DuplicateMode = "409",
    ) -> None:
        self.lock = threading.RLock()
        self.ids = IdSource(seed)
        self.groups = GroupStore()
        self.rules = RuleStore()
        self.tasks = TaskStore(task_delay, task_delays)
        self.duplicate_mode: DuplicateMode = duplicate_mode

    def settle(self) -> None:
        """Finish the tasks whose time is up (call before reading or changing anything)."""
        self.tasks.advance()

    def view(self, group: Group) -> dict[str, Any]:
        """The group object with its rules."""
        return group.view(self.rules.of_group(group.id))

    def _check_remote(self, project_id: int, region_id: int, spec: RuleSpec) -> None:
        remote = spec["remote_group_id"]
        if remote is not None:
            # Neutron checks that the referenced group exists for the same tenant.
            self.groups.get(project_id, region_id, remote)

    def _task_check_remotes(self, project_id: int, region_id: int, specs: list[RuleSpec]) -> None:
        """At task time: every remote group still exists, else the task fails."""
        for spec in specs:
            remote = spec["remote_group_id"]
            group = None if remote is None else self.groups.find(remote)
            if remote is not None and (group is None or not group.in_scope(project_id, region_id)):
                raise TaskFailure(f"Security group {remote} not found.")

    def _insert(self, group: Group, spec: RuleSpec) -> dict[str, Any]:
        rule = self.rules.insert(group.id, self.ids.new(), spec)
        group.touch()
        return rule

    def _remove(self, rule_id: str) -> None:
        rule = self.rules.remove(rule_id)
        if rule is not None:
            owner = self.groups.find(rule["security_group_id"])
            if owner is not None:
                owner.touch()

    def _drop_group(self, group: Group) -> None:
        # Rules elsewhere that name this group as their remote go with it (Neutron's
        # foreign key cascades), which changes those groups' revision too.
        for rule in self.rules.referencing(group.id):
            self._remove(rule["id"])
        self.rules.drop_group(group.id)
        self.groups.remove(group.id)

    def _rule_in_scope(self, project_id: int, region_id: int, rule_id: str) -> Group:
        rule = self.rules.get(rule_id)
        group = None if rule is None else self.groups.find(rule["security_group_id"])
        if group is None or not group.in_scope(project_id, region_id):
            raise not_found(f"Security group rule {rule_id} not found.")
        return group

    def _task(
        self,
        task_type: str,
        project_id: int,
        region_id: int,
        request_id: str,
        apply: Callable[[], Resources],
        data: Any,
    ) -> dict[str, Any]:
        task = self.tasks.create(
            self.ids.new(), task_type, project_id, region_id, request_id, apply, data
        )
        return {"tasks": [task.id]}

    def _check_rule_list(self, project_id: int, region_id: int, specs: list[RuleSpec]) -> None:
        """A group body's rules: no two the same (400), remote groups exist (404)."""
        seen: dict[tuple[object, ...], int] = {}
        for index, spec in enumerate(specs):
            key = duplicate_key("", spec)
            if key in seen:
                message = f"Duplicate of rules.{seen[key]}."
                raise validation_error(
                    RuleValidationError(
                        f"Validation error: rules.{index}: {message}", {f"rules.{index}": [message]}
                    )
                )
            seen[key] = index
        for spec in specs:
            self._check_remote(project_id, region_id, spec)
