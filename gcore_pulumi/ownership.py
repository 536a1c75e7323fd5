"""Which Gcore rules and groups the resources of this provider process already manage.

One provider process serves every resource of a Pulumi command. A rule (or group) that
this process created or adopted for one resource, or that the engine showed it as the id of
an existing resource (in diff, read or delete), belongs to that resource: a create for
another resource must never adopt it, or two resources would own one object and destroying
either would delete it under the other.

A rule a create ADOPTED in this process (``adopt_existing``) may still be recorded by an
older resource that the same command deletes later (a resource renamed without an alias):
that delete must leave the rule alone, since the rule now belongs to the new resource.

Pure bookkeeping, no I/O, so ``diff`` can record what it sees.
"""

from __future__ import annotations

import threading


class OwnedIds:
    """A thread-safe set of ids (lowercase) owned by resources in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: set[str] = set()
        self._adopted: set[str] = set()

    def add(self, object_id: str) -> None:
        """Record that a resource manages this object."""
        if object_id:
            with self._lock:
                self._ids.add(object_id.lower())

    def adopt(self, object_id: str) -> None:
        """Record that a create in this process took over this existing object."""
        with self._lock:
            self._ids.add(object_id.lower())
            self._adopted.add(object_id.lower())

    def adopted(self, object_id: str) -> bool:
        """True if a create in this process took this object over from whoever had it."""
        with self._lock:
            return object_id.lower() in self._adopted

    def discard(self, object_id: str) -> None:
        """The object was deleted: nobody owns it any more."""
        with self._lock:
            self._ids.discard(object_id.lower())
            self._adopted.discard(object_id.lower())

    def __contains__(self, object_id: object) -> bool:
        if not isinstance(object_id, str):
            return False
        with self._lock:
            return object_id.lower() in self._ids

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)


OwnedRules = OwnedIds
"""The registry of rules (the same class serves groups)."""
