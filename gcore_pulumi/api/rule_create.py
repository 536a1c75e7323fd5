"""A rule create, exactly once in effect: never a duplicate, never a lost rule, and never a
rule that was there before (unless ``adopt_existing``).

POST is not idempotent, so it is retried here rather than by urllib3: 429 and a connection
that failed before anything was sent are simply retried; after an ambiguous failure
(timeout, connection dropped after sending, 5xx, a 2xx whose body was cut off or is not
Gcore's JSON, a v2 task that could not be followed)
the group is read and a rule matching the request is adopted before anything is posted
again. With ``gcore:ruleApi`` v2 the POST answers a task and the rule exists when the task
finishes; everything else is the same for both (``RuleApi`` holds the difference).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Final, Literal

from ..errors import (
    ApiError,
    ConflictError,
    GcoreError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)
from ..group_cache import SnapshotCache
from ..models import ApiGroup, ApiRule, RuleSpec
from ..ownership import OwnedRules
from ..schema import duplicate_key
from ..tasks import TaskFailedError
from . import urls
from .answers import AmbiguousAnswer, asked_where, gcore_error_body, joined, succeeded, unexpected
from .groups import Groups
from .locks import KeyedLocks
from .retry import Retries
from .rules import RuleApi, maybe_created
from .tasks import TASK_LOOKBACK
from .transport import Transport

if TYPE_CHECKING:
    import requests

log = logging.getLogger("gcore_pulumi")

SNAPSHOT_MAX_AGE: Final = 30.0
"""How long one "before the POST" snapshot of a group serves the creates in that group."""
_CHECKING_FIRST: Final = " (checking the group first)"
"""Logged with the retry of a POST that may have worked: the group is read before it."""
_RULE_IDS: Final = "; and that group_id (and any remote_group_id) is a group there"


@dataclass(frozen=True)
class Created:
    """A created (or adopted) rule and how it came to be."""

    rule: ApiRule
    how: Literal["created", "adopted", "reconciled"]


@dataclass
class _Attempt:
    """One create under way: what it asks for, where, what was in the group before its
    first POST, since when its task may date (v2), its retry budget, and whether a try
    may already have made the rule (``ambiguous``)."""

    spec: RuleSpec
    path: str
    before: frozenset[str]
    retries: Retries
    since: datetime = field(default_factory=lambda: datetime.now(timezone.utc) - TASK_LOOKBACK)
    ambiguous: bool = False


class _Settled(Exception):
    """The last check after the tries ran out found the rule an earlier try made."""

    def __init__(self, created: Created) -> None:
        super().__init__(created.rule.id)
        self.created = created


class RuleCreator:
    """Creates rules through ``api``; ``owned`` rules are never adopted for another one."""

    def __init__(
        self,
        api: RuleApi,
        transport: Transport,
        groups: Groups,
        owned: OwnedRules,
        twins: KeyedLocks,
    ) -> None:
        self._api = api
        self._transport = transport
        self._groups = groups
        self._owned = owned
        self._twins = twins
        self._snapshots: SnapshotCache[frozenset[str] | None] = SnapshotCache(SNAPSHOT_MAX_AGE)

    def create(self, spec: RuleSpec) -> Created:
        """POST the rule exactly once in effect (see the module's docstring)."""
        path = self._api.create_path(spec)
        key = (spec.project_id, spec.region_id, spec.group_id)
        # Two creates of the same rule in one process (declared twice) run one after the
        # other, so the second sees the first's rule as owned instead of racing to adopt it.
        with (
            self._snapshots.used(key),
            self._twins.hold((key, duplicate_key(spec.as_props()))),
        ):
            self._groups.invalidate(key)
            try:
                with self._transport.operation():
                    created = self._create(spec, path)
            finally:
                self._groups.invalidate(key)
        if created.how == "adopted":
            self._owned.adopt(created.rule.id)
        else:
            self._owned.add(created.rule.id)
        return created

    def _create(self, spec: RuleSpec, path: str) -> Created:
        before = self._before(spec, path)
        if isinstance(before, Created):
            return before
        attempt = _Attempt(spec, path, before, self._transport.retries())
        try:
            return self._post(attempt)
        except _Settled as settled:
            return settled.created
        except GcoreError as error:
            if attempt.ambiguous:
                raise _with_maybe_created(error, path) from None
            raise

    def _before(self, spec: RuleSpec, path: str) -> frozenset[str] | Created:
        """Ids of the group's rules before the first POST; with ``adopt_existing``, the
        matching rule that is there already, adopted."""
        if not spec.adopt_existing:
            return self._snapshot(spec)
        group = self._groups.get(spec.project_id, spec.region_id, spec.group_id)
        if group is None:
            raise _group_not_found(spec)
        existing = _match(spec, group)
        if existing is None:
            return frozenset(r.id for r in group.security_group_rules)
        self._refuse_if_owned(spec, path, existing)
        log.warning("gcore: adopting existing rule %s (adopt_existing=True)", existing.id)
        return Created(existing, "adopted")

    def _snapshot(self, spec: RuleSpec) -> frozenset[str]:
        """Ids of the group's rules before this create's POST (shared between creates)."""
        key = (spec.project_id, spec.region_id, spec.group_id)

        def fetch() -> frozenset[str] | None:
            group = self._groups.get(*key)
            return None if group is None else frozenset(r.id for r in group.security_group_rules)

        ids = self._snapshots.get(key, fetch)
        if ids is None:
            self._snapshots.forget(key)
            raise _group_not_found(spec)
        return ids

    def _post(self, attempt: _Attempt) -> Created:
        body = self._api.create_body(attempt.spec)
        while True:
            if attempt.ambiguous:
                settled = self._settle(attempt)
                if settled is not None:
                    return settled
            try:
                response = self._transport.send("POST", attempt.path, body)
            except TransportError as error:
                if not error.maybe_sent:
                    # Never sent: urllib3 already retried the connection as often as the
                    # policy allows (connect errors are safe for every method).
                    raise
                self._retry_or_settle(attempt, error.reason)
                continue
            created = self._answered(attempt, response)
            if created is not None:
                return created

    def _answered(self, attempt: _Attempt, response: requests.Response) -> Created | None:
        """What the POST's answer means: the rule, or None to try again (after waiting)."""
        status, path = response.status_code, attempt.path
        if succeeded(response):
            try:
                return Created(self._api.created(attempt.spec, path, response), "created")
            except TaskFailedError as failed:
                # The task made nothing: if the group now holds a matching rule (Gcore
                # refused a duplicate through the task instead of a 409), settle as a 409.
                message = failed.error or "Security group rule already exists"
                return self._conflicted(attempt, {"message": message}, failed)
            except AmbiguousAnswer as lost:
                self._retry_or_settle(attempt, lost.reason)
                return None
        if status == 429:
            ambiguous = attempt.ambiguous
            self._transport.spend(
                attempt.retries, "POST", path, "HTTP 429", response,
                hint=maybe_created() if ambiguous else None,
                note=_CHECKING_FIRST if ambiguous else "",
            )  # fmt: skip
            return None
        if status >= 500:
            self._retry_or_settle(attempt, f"HTTP {status}", response)
            return None
        if status == 409 and (body := gcore_error_body(response)) is not None:
            hint = _conflict_hint(attempt.spec, None, False)
            conflict = ConflictError.from_status(409, "POST", path, body, hint=hint)
            return self._conflicted(attempt, body, conflict)
        where = asked_where(attempt.spec.project_id, attempt.spec.region_id, _RULE_IDS)
        self._transport.expect(response, "POST", path, if_gone=where)
        raise unexpected(response, "POST", path, f"HTTP {status}")

    def _retry_or_settle(
        self, attempt: _Attempt, cause: str, response: requests.Response | None = None
    ) -> None:
        """After an ambiguous failure: wait for the next try; when no try (or no time) is
        left, check the group one last time, so that a rule the failed try made is still
        found and adopted (raising ``_Settled``) instead of being left behind."""
        attempt.ambiguous = True
        try:
            self._transport.spend(
                attempt.retries, "POST", attempt.path, cause, response,
                hint=maybe_created(), note=_CHECKING_FIRST,
            )  # fmt: skip
        except GcoreError:
            settled = self._settle(attempt)
            if settled is not None:
                raise _Settled(settled) from None
            raise

    def _settle(self, attempt: _Attempt) -> Created | None:
        """After an ambiguous failure: did an earlier try of THIS create make the rule?

        A matching rule that was not in the group before the first POST, and that no other
        resource of this process owns, can only be ours: adopt it. One that was there
        before is someone else's: fail as Gcore's 409 would (or adopt it if allowed).
        None means no match, or the group could not be read now: post again (Gcore
        answers 409 if the earlier try did commit, and that is settled the same way).
        With v2 a rule appears only when its task finishes, so the API first waits for
        the project's rule-create tasks still running since just before the first POST.
        """
        spec, path = attempt.spec, attempt.path
        self._api.before_settling(spec, path, attempt.since)
        try:
            group = self._groups.get(spec.project_id, spec.region_id, spec.group_id)
        except (ServerError, RateLimitError, TransportError) as error:
            log.warning(
                "gcore: POST %s: could not check the group (%s); posting again", path, error
            )
            return None
        if group is None:
            raise _group_not_found(spec)
        existing = _match(spec, group)
        if existing is None:
            return None
        return self._claim(attempt, existing, ours=existing.id not in attempt.before, body={})

    def _conflicted(self, attempt: _Attempt, body: dict[str, Any], refused: GcoreError) -> Created:
        """Gcore refused the create as a duplicate (a 409, or a v2 task in ERROR): claim the
        matching rule now in the group; with none, ``refused`` is the answer."""
        spec = attempt.spec
        group = self._groups.get(spec.project_id, spec.region_id, spec.group_id)
        existing = _match(spec, group) if group is not None else None
        if existing is None:
            raise refused
        ours = attempt.ambiguous and existing.id not in attempt.before
        return self._claim(attempt, existing, ours=ours, body=body)

    def _claim(
        self, attempt: _Attempt, existing: ApiRule, *, ours: bool, body: dict[str, Any]
    ) -> Created:
        """Take ``existing`` if it is this create's own rule (``ours``) or may be adopted;
        otherwise fail with the conflict, naming it."""
        spec, path = attempt.spec, attempt.path
        self._refuse_if_owned(spec, path, existing, body)
        if ours:
            log.warning(
                "gcore: POST %s: the earlier try did create rule %s; adopting it",
                path,
                existing.id,
            )
            return Created(existing, "reconciled")
        if spec.adopt_existing:
            log.warning("gcore: adopting existing rule %s (adopt_existing=True)", existing.id)
            return Created(existing, "adopted")
        raise _conflict(path, body, _conflict_hint(spec, existing.id, False))

    def _refuse_if_owned(
        self, spec: RuleSpec, path: str, existing: ApiRule, body: dict[str, Any] | None = None
    ) -> None:
        if existing.id in self._owned:
            raise _conflict(path, body or {}, _conflict_hint(spec, existing.id, True))


def _match(spec: RuleSpec, group: ApiGroup) -> ApiRule | None:
    """A rule in the group that Gcore would call a duplicate of ``spec``."""
    wanted = duplicate_key(spec.as_props())
    return next(
        (rule for rule in group.security_group_rules if duplicate_key(rule.as_rule()) == wanted),
        None,
    )


def _group_not_found(spec: RuleSpec) -> NotFoundError:
    return NotFoundError(
        404,
        "GET",
        urls.group(spec.project_id, spec.region_id, spec.group_id),
        f"security group {spec.group_id} does not exist in project {spec.project_id}, "
        f"region {spec.region_id}",
        hint="Check group_id, project_id and region_id (gcore:projectId, gcore:regionId)",
    )


def _conflict_hint(spec: RuleSpec, rule_id: str | None, owned_here: bool) -> str:
    where = f" as rule {rule_id}" if rule_id else ""
    if owned_here:
        return (
            f"An identical rule already exists in group {spec.group_id}{where}, and another "
            "resource of this stack already manages it: the same rule is probably declared "
            "twice in the program (Gcore compares every field but description). Remove one "
            "of the two declarations: one rule can have only one owner"
        )
    return (
        f"An identical rule already exists in group {spec.group_id}{where} (Gcore compares "
        "every field but description). Delete that rule; or, if it was made outside Pulumi, "
        "set adopt_existing=True on this resource to bring it under management. (If you "
        "renamed this resource, give it `aliases` with its old name instead)"
    )


def _conflict(path: str, body: dict[str, Any], hint: str) -> ConflictError:
    fields = body or {"message": "Security group rule already exists"}
    error = ApiError.from_status(409, "POST", path, fields, hint=hint)
    assert isinstance(error, ConflictError)
    return error


def _with_maybe_created(error: GcoreError, path: str) -> GcoreError:
    """``error`` saying that an earlier try may have created the rule (once)."""
    if maybe_created() in str(error) or isinstance(error, (ConflictError, NotFoundError)):
        return error
    if isinstance(error, ApiError):
        return type(error)(
            error.status,
            error.method,
            error.path,
            error.message,
            request_id=error.request_id,
            exception_class=error.exception_class,
            invalid_fields=error.invalid_fields,
            hint=joined(error.hint, maybe_created()) if error.hint else maybe_created(),
        )
    # A TransportError's text already starts "POST <path> failed:": keep only its reason
    why = error.reason if isinstance(error, TransportError) else str(error)
    return TransportError("POST", path, joined(why, maybe_created()), maybe_sent=True)
