"""Which Gcore rules the resources of this provider process already manage.

One provider process serves every resource of a Pulumi command. A rule that
this process created or adopted for one resource, or that the engine showed it as the id of
an existing resource (in diff or read), belongs to that resource: a create for
another resource must never adopt it, or two resources would own one rule and destroying
either would delete it under the other. (Groups need no such record: identical group
creates are serialised, and each lists the groups that exist before it posts.)

A rule a create ADOPTED in this process (``adopt_existing``) may still be recorded by an
older resource that the same command deletes later (a resource renamed without an alias):
that delete must leave the rule alone, since the rule now belongs to the new resource.

Pure bookkeeping, no I/O, so ``diff`` can record what it sees.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from .errors import GcoreError
from .rule_set import canonical_rule, rule_key


class OwnedRules:
    """A thread-safe set of rule ids (lowercase) owned by resources in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: set[str] = set()
        self._adopted: set[str] = set()

    def add(self, rule_id: str) -> None:
        """Record that a resource manages this rule."""
        if rule_id:
            with self._lock:
                self._ids.add(rule_id.lower())

    def adopt(self, rule_id: str) -> None:
        """Record that a create in this process took over this existing rule."""
        with self._lock:
            self._ids.add(rule_id.lower())
            self._adopted.add(rule_id.lower())

    def adopted(self, rule_id: str) -> bool:
        """True if a create in this process took this rule over from whoever had it."""
        with self._lock:
            return rule_id.lower() in self._adopted

    def discard(self, rule_id: str) -> None:
        """The rule was deleted: nobody owns it any more."""
        with self._lock:
            self._ids.discard(rule_id.lower())
            self._adopted.discard(rule_id.lower())

    def __contains__(self, rule_id: object) -> bool:
        if not isinstance(rule_id, str):
            return False
        with self._lock:
            return rule_id.lower() in self._ids

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)


class RuleSetOwners:
    """Groups whose rules a ``SecurityGroup`` of this process owns as a set (its ``rules``
    input), by group id (lowercase), with the group's name for messages.

    Fed by the group provider wherever it learns a group's id and whether ``rules`` is
    given: ``diff`` (every later ``up`` and preview; after a refresh too), ``create`` and
    ``update``. Not ``read``: a refresh of ``SecurityGroup.get`` passes its last outputs
    (its live rules) just as a managed set's refresh does, and must claim nothing. The
    engine runs a group's steps before those of a ``SecurityGroupRule`` whose ``group_id``
    is that group's output, so the rule's ``check`` and ``create`` see the record. Pure
    bookkeeping, no I/O.

    It also knows which rules each owned set holds (``hold``: the live rules after the
    group's create or update, or the state's in ``diff``), by id and by Gcore's
    duplicate key. A ``SecurityGroupRule`` moved into the set in one ``up`` is deleted by the
    engine AFTER the group's PATCH kept that very rule: its delete must leave it
    (``keeps``), or the rule the set declares would be gone.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: dict[str, str] = {}
        self._held: dict[str, tuple[frozenset[str], frozenset[tuple[Any, ...]]]] = {}

    def claim(self, group_id: str, name: object) -> None:
        """The group's ``rules`` input is given: it owns every rule in it."""
        if group_id:
            with self._lock:
                self._names[group_id.lower()] = name if isinstance(name, str) else ""

    def release(self, group_id: str) -> None:
        """The group's ``rules`` is omitted (or the group is gone): no set owns its rules."""
        if group_id:
            with self._lock:
                self._names.pop(group_id.lower(), None)
                self._held.pop(group_id.lower(), None)

    def hold(self, group_id: str, rules: object) -> None:
        """The owned set's rules as Gcore (or the state) holds them: canonical rules, each
        with its ``id``. Anything but a list (unknown, omitted) records nothing."""
        if not group_id or not isinstance(rules, list | tuple):
            return
        known = [canonical_rule(rule) for rule in rules if isinstance(rule, Mapping)]
        ids = frozenset(str(rule["id"]) for rule in known if rule.get("id"))
        keys = frozenset(rule_key(rule) for rule in known)
        with self._lock:
            self._held[group_id.lower()] = (ids, keys)

    def keeps(self, group_id: object, rule_id: str, rule: Mapping[str, Any]) -> str | None:
        """Why a delete of this rule (id and fields, from a ``SecurityGroupRule``'s state)
        must leave it: a set owns its group and holds it (same id, or the same duplicate key
        under a new id: Gcore holds no two such rules, so the old one is gone). Else None."""
        if not isinstance(group_id, str):
            return None
        with self._lock:
            name = self._names.get(group_id.lower())
            ids, keys = self._held.get(group_id.lower(), (frozenset(), frozenset()))
        if name is None:
            return None
        if rule_id.lower() in ids:
            held = "holds it"
        elif rule_key(canonical_rule({k: v for k, v in rule.items() if k != "id"})) in keys:
            held = "holds the same rule (Gcore gave it a new id)"
        else:
            return None
        named = f"{name!r} ({group_id})" if name else group_id
        return f"the rule set of security group {named} (its SecurityGroup's rules input) {held}"

    def record(self, group_id: str, name: object, rules: object) -> None:
        """Claim when ``rules`` is given (a list or not yet known), release when omitted."""
        if rules is None:
            self.release(group_id)
        else:
            self.claim(group_id, name)

    def owner(self, group_id: object) -> str | None:
        """The owning group's name ("" when unknown) if a set owns this group's rules."""
        if not isinstance(group_id, str):
            return None
        with self._lock:
            return self._names.get(group_id.lower())


class ManagedGroups:
    """Groups that a ``SecurityGroup`` of this process manages, by id (lowercase), with the
    group's name for messages: recorded by ``diff`` (unless the group is replaced),
    ``create`` and ``update`` (not ``read``: see ``RuleSetOwners``).

    A create with ``adopt_id`` of a group another resource manages is refused: the two
    would undo each other's changes, and destroying either would delete the group under the
    other. ``adopt`` checks and records in one step, so two creates adopting one group at
    once cannot both pass. A group a create ADOPTED here may still be recorded by an older
    resource the same command deletes later (renamed, ``adopt_id`` on the new one): that
    delete leaves the group (``adopted``). Pure bookkeeping, no I/O.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: dict[str, str] = {}
        self._adopted: set[str] = set()

    def manage(self, group_id: str, name: object) -> None:
        """Record that a resource of this process manages this group."""
        if group_id:
            with self._lock:
                self._names[group_id.lower()] = name if isinstance(name, str) else ""

    def manager(self, group_id: object) -> str | None:
        """The managed group's name ("" when unknown) if a resource manages it, else None."""
        if not isinstance(group_id, str):
            return None
        with self._lock:
            return self._names.get(group_id.lower())

    def adopt(self, group_id: str, name: object) -> str | None:
        """Record a create's take-over of this group, unless a resource already manages
        it: then the managed group's name ("" when unknown), and nothing recorded."""
        with self._lock:
            held = self._names.get(group_id.lower())
            if held is not None:
                return held
            self._names[group_id.lower()] = name if isinstance(name, str) else ""
            self._adopted.add(group_id.lower())
            return None

    def adopted(self, group_id: str) -> bool:
        """True if a create in this process took this group over."""
        with self._lock:
            return group_id.lower() in self._adopted

    def forget(self, group_id: str) -> None:
        """The group is gone, or the create that adopted it failed."""
        with self._lock:
            self._names.pop(group_id.lower(), None)
            self._adopted.discard(group_id.lower())


def managed_group_reason(group_id: str, name: str) -> str:
    """Why ``adopt_id`` of a group another ``SecurityGroup`` of the stack manages is refused."""
    named = f"{name!r} ({group_id})" if name else group_id
    return (
        f"security group {named} is already managed by another SecurityGroup of this stack; "
        "two resources managing one group undo each other's changes, and destroying either "
        "deletes the group under the other: use that resource (its outputs, e.g. its id) "
        "instead, or remove adopt_id to create a new group"
    )


class GroupAlreadyManagedError(GcoreError):
    """A ``SecurityGroup``'s ``adopt_id`` names a group another of the stack manages."""


def owned_by_set_reason(group_id: str, name: str) -> str:
    """Why a ``SecurityGroupRule`` on a group whose rules a set owns is refused."""
    named = f"{name!r} ({group_id})" if name else group_id
    return (
        f"security group {named} owns its rules as a set (its SecurityGroup's rules input), "
        "so its next up would delete this separate rule; add the rule to that group's "
        "rules=[...] instead, or remove rules= from the group to manage its rules as "
        "SecurityGroupRule resources"
    )


class RuleOwnedBySetError(GcoreError):
    """A ``SecurityGroupRule`` would go into a group whose rules a ``SecurityGroup`` owns."""
