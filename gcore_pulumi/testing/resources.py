"""The emulator's stored resources: security groups and their rules, kept apart.

:class:`GroupStore` holds groups (name, description, tags, revision); :class:`RuleStore`
holds rules (API rule objects) with an index by group. Neither knows HTTP nor tasks, and
neither locks: :class:`~gcore_pulumi.testing.service.CloudState` calls them under its lock.
"""

from __future__ import annotations

import copy
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from gcore_pulumi.testing.errors import not_found
from gcore_pulumi.testing.neutron import RuleSpec, find_duplicate

__all__ = ["Group", "GroupStore", "IdSource", "RuleStore", "api_timestamp"]


def api_timestamp() -> str:
    """Now, in the API's format: ``2019-06-18T11:56:16+0000`` (offset without a colon)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


class IdSource:
    """Lowercase uuid4 ids; reproducible when given a seed."""

    def __init__(self, seed: int | None) -> None:
        self._rng = None if seed is None else random.Random(seed)

    def new(self) -> str:
        """A fresh id."""
        if self._rng is None:
            return str(uuid.uuid4())
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))


@dataclass
class Group:
    """One security group (its rules live in :class:`RuleStore`)."""

    id: str
    name: str
    project_id: int
    region_id: int
    created_at: str
    updated_at: str
    description: str = ""
    revision_number: int = 0
    #: User tags, in insertion order.
    tags: dict[str, str] = field(default_factory=dict)
    #: Tags the user cannot change (set by Gcore, here out of band).
    read_only_tags: dict[str, str] = field(default_factory=dict)
    #: While True the group is attached to something and cannot be deleted (409).
    in_use: bool = False

    def touch(self) -> None:
        """Record a change: a new revision and ``updated_at``."""
        self.revision_number += 1
        self.updated_at = api_timestamp()

    def in_scope(self, project_id: int, region_id: int) -> bool:
        """Whether the group belongs to this project and region."""
        return (self.project_id, self.region_id) == (project_id, region_id)

    def tags_v2(self) -> list[dict[str, Any]]:
        """``tags_v2`` as the API answers it: read-only tags first, then user tags."""
        read_only = [
            {"key": k, "value": v, "read_only": True} for k, v in self.read_only_tags.items()
        ]
        user = [{"key": k, "value": v, "read_only": False} for k, v in self.tags.items()]
        return read_only + user

    def all_tags(self) -> dict[str, str]:
        """Every tag, user and read-only, as a map (for the list filters)."""
        return {**self.tags, **self.read_only_tags}

    def view(self, rules: list[dict[str, Any]]) -> dict[str, Any]:
        """The group object of the GET endpoint, with ``rules`` (copied)."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "project_id": self.project_id,
            "region_id": self.region_id,
            "region": f"Emulated Region {self.region_id}",
            "revision_number": self.revision_number,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "tags_v2": self.tags_v2(),
            "security_group_rules": [copy.deepcopy(r) for r in rules],
        }


class GroupStore:
    """Security groups by id."""

    def __init__(self) -> None:
        self._groups: dict[str, Group] = {}

    def add(self, group: Group) -> Group:
        """Store a new group."""
        self._groups[group.id] = group
        return group

    def find(self, group_id: str) -> Group | None:
        """The group with this id in any project and region, or None."""
        return self._groups.get(group_id.lower())

    def get(self, project_id: int, region_id: int, group_id: str) -> Group:
        """The group, or Gcore's 404 when it does not exist in this project and region."""
        group = self.find(group_id)
        if group is None or not group.in_scope(project_id, region_id):
            raise not_found(f"Security group {group_id} not found.")
        return group

    def remove(self, group_id: str) -> Group | None:
        """Forget the group; return it (None if unknown)."""
        return self._groups.pop(group_id.lower(), None)

    def all(self) -> list[Group]:
        """Every group, oldest first."""
        return list(self._groups.values())

    def in_scope(self, project_id: int, region_id: int) -> list[Group]:
        """The groups of one project and region, oldest first."""
        return [g for g in self._groups.values() if g.in_scope(project_id, region_id)]


class RuleStore:
    """Rules (API rule objects) by id, with each group's rules in creation order."""

    def __init__(self) -> None:
        self._rules: dict[str, dict[str, Any]] = {}
        self._by_group: dict[str, dict[str, None]] = {}

    def insert(self, group_id: str, rule_id: str, spec: RuleSpec) -> dict[str, Any]:
        """Store a rule made from ``spec``; return a copy of the stored object."""
        now = api_timestamp()
        rule: dict[str, Any] = {
            "id": rule_id,
            "security_group_id": group_id,
            "direction": spec["direction"],
            "ethertype": spec["ethertype"],
            "protocol": spec["protocol"],
            "port_range_min": spec["port_range_min"],
            "port_range_max": spec["port_range_max"],
            "remote_ip_prefix": spec["remote_ip_prefix"],
            "remote_group_id": spec["remote_group_id"],
            "description": spec["description"],
            "revision_number": 0,
            "created_at": now,
            "updated_at": now,
        }
        self._rules[rule_id] = rule
        self._by_group.setdefault(group_id, {})[rule_id] = None
        return copy.deepcopy(rule)

    def get(self, rule_id: str) -> dict[str, Any] | None:
        """The stored rule (not a copy), or None."""
        return self._rules.get(rule_id.lower())

    def remove(self, rule_id: str) -> dict[str, Any] | None:
        """Forget the rule; return it (None if unknown)."""
        rule = self._rules.pop(rule_id.lower(), None)
        if rule is not None:
            self._by_group.get(rule["security_group_id"], {}).pop(rule["id"], None)
        return rule

    def of_group(self, group_id: str) -> list[dict[str, Any]]:
        """The group's stored rules, oldest first (not copies)."""
        return [self._rules[i] for i in self._by_group.get(group_id, {})]

    def drop_group(self, group_id: str) -> None:
        """Forget every rule of the group."""
        for rule_id in self._by_group.pop(group_id, {}):
            self._rules.pop(rule_id, None)

    def referencing(self, group_id: str) -> list[dict[str, Any]]:
        """Rules in other groups that name this group as their remote group."""
        return [
            r
            for r in self._rules.values()
            if r["remote_group_id"] == group_id and r["security_group_id"] != group_id
        ]

    def all(self) -> list[dict[str, Any]]:
        """Every stored rule (not copies)."""
        return list(self._rules.values())

    def duplicate_of(self, group_id: str, spec: RuleSpec, ignore: str | None = None) -> str | None:
        """The id of a rule of the group that Neutron would call a duplicate of ``spec``."""
        existing = [r for r in self.of_group(group_id) if r["id"] != ignore]
        return find_duplicate(group_id, spec, existing)
