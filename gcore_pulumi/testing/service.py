"""What each Gcore endpoint does to the emulated cloud, apart from HTTP.

:class:`CloudState` owns the three stores (groups, rules, tasks) and one re-entrant lock.
Each public method is one endpoint's behaviour: it checks the request in Gcore's order,
raises :class:`~gcore_pulumi.testing.errors.ApiError` for an error answer and returns the
answer's JSON otherwise. Asynchronous (v2) endpoints check what Gcore checks at once, then
return ``{"tasks": [id]}``; the change itself is made when the task finishes, and is checked
again then (the group may be gone, a twin rule may have appeared), so a late problem ends
the task in ``ERROR`` with nothing changed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal, get_args

from gcore_pulumi.testing.bodies import (
    GroupQuery,
    TaskQuery,
    validate_group_create,
    validate_group_patch,
)
from gcore_pulumi.testing.errors import conflict, not_found, validation_error
from gcore_pulumi.testing.neutron import (
    RuleSpec,
    RuleValidationError,
    duplicate_key,
    validate_rule_body,
)
from gcore_pulumi.testing.resources import Group, GroupStore, IdSource, RuleStore, api_timestamp
from gcore_pulumi.testing.tasks import TaskFailure, TaskStore

__all__ = [
    "DEFAULT_TEMPLATE",
    "DUPLICATE_MODES",
    "CloudState",
    "DuplicateMode",
    "check_duplicate_mode",
]

#: How a duplicate v2 rule create is refused: ``"409"`` at once (as v1 does), or
#: ``"task_error"``: the POST gets a task that ends in ERROR.
DuplicateMode = Literal["409", "task_error"]
DUPLICATE_MODES: tuple[DuplicateMode, ...] = get_args(DuplicateMode)


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

_Resources = dict[str, list[str]]


def _resources(groups: Sequence[str] = (), rules: Sequence[str] = ()) -> _Resources:
    return {"security_groups": list(groups), "security_group_rules": list(rules)}


def _duplicate(rule_id: str) -> str:
    return f"Security group rule already exists. Rule id is {rule_id}."


def _rule_identity(rule: RuleSpec | dict[str, Any]) -> tuple[object, ...]:
    """What makes two rules the same rule for a PATCH's desired set."""
    return (*duplicate_key("", rule), rule.get("description") or "")


class CloudState:
    """The emulated cloud: groups, rules and tasks behind one lock."""

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

    # -- shared steps (lock held) ---------------------------------------------------------
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
        apply: Callable[[], _Resources],
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
            raise conflict(_duplicate(twin))
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
            raise conflict(_duplicate(twin))
        self._remove(rule_id)
        return self._insert(target, spec)

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

        def apply() -> _Resources:
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
            return _resources([group.id], made)

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

        def apply() -> _Resources:
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
            return _resources([], made)

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
            raise conflict(_duplicate(twin))

        def apply() -> _Resources:
            target = self.groups.find(group_id)
            if target is None or not target.in_scope(project_id, region_id):
                raise TaskFailure(f"Security group {group_id} not found.")
            self._task_check_remotes(project_id, region_id, [spec])
            existing = self.rules.duplicate_of(target.id, spec)
            if existing is not None:
                raise TaskFailure(_duplicate(existing))
            return _resources([], [self._insert(target, spec)["id"]])

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

        def apply() -> _Resources:
            if self.rules.get(rule_id) is None:
                raise TaskFailure(f"Security group rule {rule_id} not found.")
            self._remove(rule_id)
            return _resources()

        data = {"security_group_id": group.id, "rule_id": rule["id"]}
        return self._task(
            "delete_security_group_rule", project_id, region_id, request_id, apply, data
        )

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
