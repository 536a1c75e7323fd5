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
