"""The rule endpoints of the emulated cloud (v1 at once, v2 through tasks)."""

from __future__ import annotations

from typing import Any

from gcore_pulumi.testing.errors import conflict, not_found, validation_error
from gcore_pulumi.testing.neutron import RuleValidationError, validate_rule_body
from gcore_pulumi.testing.service_core import CloudCore, Resources, duplicate_message, resources
from gcore_pulumi.testing.tasks import TaskFailure

__all__ = ["RuleEndpoints"]


class RuleEndpoints(CloudCore):
    """``/securitygroups/.../rules``, ``/securitygrouprules/...`` and the v2 rule routes."""

    # -- v1 rules ---------------------------------------------------------------------------
    def create_rule_v1(
        self, project_id: int, region_id: int, group_id: str, body: object
    ) -> dict[str, Any]:
        """``POST /cloud/v1/securitygroups/{p}/{r}/{g}/rules``: 400, 404, 409, else the rule."""
        try:
            spec, _ = validate_rule_body(body)
        except RuleValidationError as err:
            raise validation_error(err) from None
        self._check_remote(project_id, region_id, spec)
        group = self.groups.get(project_id, region_id, group_id)
        twin = self.rules.duplicate_of(group.id, spec)
        if twin is not None:
            raise conflict(duplicate_message(twin))
        return self._insert(group, spec)

    def delete_rule_v1(self, project_id: int, region_id: int, rule_id: str) -> None:
        """``DELETE /cloud/v1/securitygrouprules/{p}/{r}/{rule_id}``: 404 or done."""
        self._rule_in_scope(project_id, region_id, rule_id)
        self._remove(rule_id)

    def replace_rule_v1(
        self, project_id: int, region_id: int, rule_id: str, body: object
    ) -> dict[str, Any]:
        """``PUT .../{rule_id}``: delete the rule and create one from the body, with a new id,
        in the rule's group.

        ``security_group_id`` in the body is optional, as in Gcore's current OpenAPI (its SDK
        0.59 does not send it; older docs did): when present it must be a group of this
        project and region (404 otherwise) and the rule's own (400 naming the field
        otherwise: the PUT does not move a rule). All checks run before anything changes,
        so a refused PUT leaves the old rule alone.
        """
        try:
            spec, named_group = validate_rule_body(body, allow_security_group_id=True)
        except RuleValidationError as err:
            raise validation_error(err) from None
        target = self._rule_in_scope(project_id, region_id, rule_id)
        if named_group is not None:
            self.groups.get(project_id, region_id, named_group)  # 404 unless it exists here
        if named_group is not None and named_group != target.id:
            message = (
                f"Security group rule {rule_id} belongs to security group {target.id}, "
                f"not {named_group}."
            )
            raise validation_error(
                RuleValidationError(
                    f"Validation error: security_group_id: {message}",
                    {"security_group_id": [message]},
                )
            )
        self._check_remote(project_id, region_id, spec)
        twin = self.rules.duplicate_of(target.id, spec, ignore=rule_id.lower())
        if twin is not None:
            raise conflict(duplicate_message(twin))
        self._remove(rule_id)
        return self._insert(target, spec)

    # -- v2 rules ---------------------------------------------------------------------------
    def create_rule_v2(
        self, project_id: int, region_id: int, group_id: str, body: object, request_id: str
    ) -> dict[str, Any]:
        """``POST /cloud/v2/security_groups/{p}/{r}/{g}/rules``: 400, 404, then (with
        ``duplicate_mode`` "409") 409 for a duplicate, else a task whose
        ``created_resources.security_group_rules[0]`` is the new rule."""
        try:
            spec, _ = validate_rule_body(body, v2=True)
        except RuleValidationError as err:
            raise validation_error(err) from None
        self._check_remote(project_id, region_id, spec)
        group = self.groups.get(project_id, region_id, group_id)
        twin = self.rules.duplicate_of(group.id, spec)
        if twin is not None and self.duplicate_mode == "409":
            raise conflict(duplicate_message(twin))

        def apply() -> Resources:
            target = self.groups.find(group_id)
            if target is None or not target.in_scope(project_id, region_id):
                raise TaskFailure(f"Security group {group_id} not found.")
            self._task_check_remotes(project_id, region_id, [spec])
            existing = self.rules.duplicate_of(target.id, spec)
            if existing is not None:
                raise TaskFailure(duplicate_message(existing))
            return resources([], [self._insert(target, spec)["id"]])

        return self._task(
            "create_security_group_rule", project_id, region_id, request_id, apply, body
        )

    def delete_rule_v2(
        self, project_id: int, region_id: int, group_id: str, rule_id: str, request_id: str
    ) -> dict[str, Any]:
        """``DELETE /cloud/v2/security_groups/{p}/{r}/{g}/rules/{rule_id}``: 404 at once for
        an unknown group or a rule not in it, else a task; a rule already gone when the task
        runs ends it in ERROR."""
        group = self.groups.get(project_id, region_id, group_id)
        rule = self.rules.get(rule_id)
        if rule is None or rule["security_group_id"] != group.id:
            raise not_found(f"Security group rule {rule_id} not found.")

        def apply() -> Resources:
            if self.rules.get(rule_id) is None:
                raise TaskFailure(f"Security group rule {rule_id} not found.")
            self._remove(rule_id)
            return resources()

        data = {"security_group_id": group.id, "rule_id": rule["id"]}
        return self._task(
            "delete_security_group_rule", project_id, region_id, request_id, apply, data
        )
