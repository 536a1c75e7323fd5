"""The group endpoints of the emulated cloud (v1 reads and delete, v2 create and patch)."""

from __future__ import annotations

from typing import Any

from gcore_pulumi.testing.bodies import GroupQuery, validate_group_create, validate_group_patch
from gcore_pulumi.testing.errors import conflict, validation_error
from gcore_pulumi.testing.neutron import RuleSpec, RuleValidationError, duplicate_key
from gcore_pulumi.testing.resources import Group, api_timestamp
from gcore_pulumi.testing.service_core import CloudCore, Resources, resources
from gcore_pulumi.testing.tasks import TaskFailure

__all__ = ["DEFAULT_TEMPLATE", "GroupEndpoints"]


def _allow_all(direction: str, ethertype: str) -> RuleSpec:
    return {
        "direction": direction,
        "ethertype": ethertype,
        "protocol": None,
        "port_range_min": None,
        "port_range_max": None,
        "remote_ip_prefix": None,
        "remote_group_id": None,
        "description": "",
    }


#: The rules a v2 group create without ``rules`` gets: allow all ingress and all egress, for
#: IPv4 and IPv6 (Gcore documents "ingress + egress allow-all" without the exact list).
DEFAULT_TEMPLATE: tuple[RuleSpec, ...] = tuple(
    _allow_all(direction, ethertype)
    for direction in ("ingress", "egress")
    for ethertype in ("IPv4", "IPv6")
)


def _rule_identity(rule: RuleSpec | dict[str, Any]) -> tuple[object, ...]:
    """What makes two rules the same rule for a PATCH's desired set."""
    return (*duplicate_key("", rule), rule.get("description") or "")


class GroupEndpoints(CloudCore):
    """``/cloud/v1/securitygroups`` reads and delete, ``/cloud/v2/security_groups`` writes."""

    # -- v1 groups --------------------------------------------------------------------------
    def get_group(self, project_id: int, region_id: int, group_id: str) -> dict[str, Any]:
        """``GET /cloud/v1/securitygroups/{p}/{r}/{g}``."""
        return self.view(self.groups.get(project_id, region_id, group_id))

    def list_groups(self, project_id: int, region_id: int, query: GroupQuery) -> dict[str, Any]:
        """``GET /cloud/v1/securitygroups/{p}/{r}``: ``{"count": matching, "results": page}``."""

        def keep(group: Group) -> bool:
            tags = group.all_tags()
            return (
                (query.name is None or group.name == query.name)
                and all(k in tags for k in query.tag_keys)
                and all(tags.get(k) == v for k, v in query.tag_key_value.items())
            )

        matching = [g for g in self.groups.in_scope(project_id, region_id) if keep(g)]
        page = matching[query.offset : query.offset + query.limit]
        return {"count": len(matching), "results": [self.view(g) for g in page]}

    def delete_group(self, project_id: int, region_id: int, group_id: str) -> None:
        """``DELETE /cloud/v1/securitygroups/{p}/{r}/{g}``: 404, 409 while in use, else gone
        with its rules (and rules elsewhere that name it as their remote group)."""
        group = self.groups.get(project_id, region_id, group_id)
        if group.in_use:
            raise conflict(
                f"Security group {group.id} is in use by one or more instances or ports; "
                "detach it first."
            )
        self._drop_group(group)

    # -- v2 groups --------------------------------------------------------------------------
    def create_group_v2(
        self, project_id: int, region_id: int, body: object, request_id: str
    ) -> dict[str, Any]:
        """``POST /cloud/v2/security_groups/{p}/{r}``: a task; the group exists once it ends.

        ``rules`` omitted gives :data:`DEFAULT_TEMPLATE`, ``[]`` no rules, a list exactly
        those (two the same are a 400, an unknown remote group a 404, before any task).
        """
        try:
            spec = validate_group_create(body)
        except RuleValidationError as err:
            raise validation_error(err) from None
        rules = list(DEFAULT_TEMPLATE) if spec.rules is None else spec.rules
        self._check_rule_list(project_id, region_id, rules)

        def apply() -> Resources:
            self._task_check_remotes(project_id, region_id, rules)
            now = api_timestamp()
            group = Group(
                id=self.ids.new(),
                name=spec.name,
                project_id=project_id,
                region_id=region_id,
                created_at=now,
                updated_at=now,
                description=spec.description,
                tags=dict(spec.tags),
            )
            self.groups.add(group)
            made = [self.rules.insert(group.id, self.ids.new(), r)["id"] for r in rules]
            return resources([group.id], made)

        return self._task("create_security_group", project_id, region_id, request_id, apply, body)

    def patch_group_v2(
        self, project_id: int, region_id: int, group_id: str, body: object, request_id: str
    ) -> dict[str, Any]:
        """``PATCH /cloud/v2/security_groups/{p}/{r}/{g}``.

        ``tags`` (a merge patch; read-only keys may not be set or removed: 400) applies at
        once and makes no task. ``name``, ``description`` and ``rules`` (the complete desired
        set: rules not in it are deleted) change when the returned task finishes. Nothing
        that differs from the group: ``{"tasks": []}``.
        """
        try:
            patch = validate_group_patch(body)
        except RuleValidationError as err:
            raise validation_error(err) from None
        group = self.groups.get(project_id, region_id, group_id)
        new_tags = dict(group.tags)
        if patch.tags_given:
            locked = sorted(k for k in (patch.tags or {}) if k in group.read_only_tags)
            if locked:
                message = f"Read-only tags cannot be changed: {', '.join(locked)}."
                raise validation_error(RuleValidationError(message, {"tags": [message]}))
            if patch.tags is None:
                new_tags = {}
            for key, value in (patch.tags or {}).items():
                if value is None:
                    new_tags.pop(key, None)
                else:
                    new_tags[key] = value
        if patch.rules is not None:
            self._check_rule_list(project_id, region_id, patch.rules)
        if new_tags != group.tags:
            group.tags = new_tags
            group.touch()

        renamed = patch.name is not None and patch.name != group.name
        redescribed = patch.description is not None and patch.description != group.description
        rules_change = patch.rules is not None and self._rule_plan(group, patch.rules) != ([], [])
        if not (renamed or redescribed or rules_change):
            return {"tasks": []}

        def apply() -> Resources:
            target = self.groups.find(group_id)
            if target is None or not target.in_scope(project_id, region_id):
                raise TaskFailure(f"Security group {group_id} not found.")
            doomed: list[str] = []
            wanted: list[RuleSpec] = []
            if patch.rules is not None:
                doomed, wanted = self._rule_plan(target, patch.rules)
                self._task_check_remotes(project_id, region_id, wanted)
            name = target.name if patch.name is None else patch.name
            description = target.description if patch.description is None else patch.description
            if (name, description) != (target.name, target.description):
                target.name, target.description = name, description
                target.touch()
            for rule_id in doomed:
                self._remove(rule_id)
            made = [self._insert(target, spec)["id"] for spec in wanted]
            return resources([], made)

        return self._task("update_security_group", project_id, region_id, request_id, apply, body)

    def _rule_plan(self, group: Group, desired: list[RuleSpec]) -> tuple[list[str], list[RuleSpec]]:
        """(ids of the group's rules to delete, specs to create) to reach ``desired``."""
        current = {rule["id"]: _rule_identity(rule) for rule in self.rules.of_group(group.id)}
        to_create: list[RuleSpec] = []
        for spec in desired:
            identity = _rule_identity(spec)
            match = next((rid for rid, ident in current.items() if ident == identity), None)
            if match is None:
                to_create.append(spec)
            else:
                del current[match]
        return list(current), to_create
