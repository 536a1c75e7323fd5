"""The only module that speaks HTTP to Gcore.

Retry policy (stated once, here):

* Every request has a connect and a read timeout, and every operation (one create, read or
  delete, with all its retries) an overall deadline (``gcore:deadline``).
* GET and DELETE are retried by urllib3's ``Retry`` on connection errors, read timeouts,
  429 and 5xx, with capped exponential backoff plus jitter, honouring ``Retry-After``
  (seconds or HTTP date) up to ``max_retry_after``.
* POST (create) is not idempotent, so it is retried by ``create_rule`` itself: 429 and a
  connection that failed before anything was sent are simply retried; after an ambiguous
  failure (timeout, connection dropped after sending, 5xx) the group is read and a rule
  matching the request is adopted before anything is posted again.
* DELETE treats 404 as success: the rule (or its group) is already gone.

One ``requests.Session`` is shared by all threads of the provider process: urllib3's pool
is thread-safe and keeps connections alive between calls.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import logging
import math
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final, Literal, TypeVar
from urllib.parse import urlencode, urlsplit

import requests
from pydantic import BaseModel, ValidationError
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NameResolutionError, NewConnectionError, ReadTimeoutError
from urllib3.util.retry import RequestHistory, Retry

from ._version import __version__
from .errors import (
    ApiError,
    ConflictError,
    GcoreError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
    UnexpectedAnswerError,
)
from .group_cache import GroupReadCache, SnapshotCache
from .models import (
    ApiGroup,
    ApiGroupPage,
    ApiGroupSummary,
    ApiRule,
    ApiTask,
    ApiTaskIds,
    ApiTaskPage,
    GroupSpec,
    RuleSpec,
)
from .ownership import OwnedRules
from .schema import duplicate_key
from .settings import Settings, is_loopback
from .tasks import PENDING_STATES, TaskFailedError, TaskPendingError, poll_offsets

log = logging.getLogger("gcore_pulumi")
_Model = TypeVar("_Model", bound=BaseModel)

USER_AGENT: Final = f"gcore-pulumi/{__version__} (+https://pypi.org/project/gcore-pulumi)"
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
MIN_ANSWER_SECONDS: Final = 1.0
"""A POST is sent only if the deadline leaves this long (or the read timeout) for its answer."""
SNAPSHOT_MAX_AGE: Final = 30.0
"""How long one "before the POST" snapshot of a group serves the creates in that group."""


class DeadlineExceeded(Exception):
    """The operation's overall deadline passed, or the next wait would pass it."""


@dataclass(frozen=True)
class _Operation:
    deadline: float

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


_current: contextvars.ContextVar[_Operation | None] = contextvars.ContextVar(
    "gcore_operation", default=None
)


class PolicyRetry(Retry):
    """urllib3's Retry plus this provider's overall deadline, its own Retry-After parsing
    (capped at ``max_retry_after``; works with every urllib3 2.x) and one log line per retry."""

    max_retry_after: float = 60.0

    def increment(self, *args: Any, **kwargs: Any) -> PolicyRetry:
        new = super().increment(*args, **kwargs)
        operation = _current.get()
        if operation is not None and operation.remaining() <= 0:
            raise DeadlineExceeded("the deadline (gcore:deadline) passed while retrying")
        last = new.history[-1]
        cause = f"HTTP {last.status}" if last.status else type(last.error).__name__
        tries = len(new.history)
        log.warning(
            "gcore: %s %s got %s; retrying (retry %d of %s)",
            last.method,
            _path(last.url or ""),
            cause,
            tries,
            self._budget(),
        )
        return new

    def new(self, **kw: Any) -> PolicyRetry:
        fresh = super().new(**kw)
        fresh.max_retry_after = self.max_retry_after
        return fresh

    def _budget(self) -> int | str:
        total = self.total if isinstance(self.total, int) else None
        return (total + len(self.history)) if total is not None else "?"

    def get_retry_after(self, response: Any) -> float | None:
        """Seconds the server asked to wait, or None when absent or unusable (then the
        normal backoff applies): only whole non-negative seconds or an HTTP date count."""
        header = response.headers.get("Retry-After") if response is not None else None
        seconds = parse_retry_after(header)
        return None if seconds is None else min(seconds, self.max_retry_after)

    def sleep_for_retry(self, response: Any) -> bool:
        delay = self.get_retry_after(response)
        if delay is None:
            return False
        self._wait(delay, "the server's Retry-After")
        return True

    def sleep(self, response: Any = None) -> None:
        delay, why = self.get_backoff_time(), "backoff"
        if self.respect_retry_after_header and response is not None:
            after = self.get_retry_after(response)
            if after is not None:
                delay, why = after, "the server's Retry-After"
        self._wait(delay, why)

    @staticmethod
    def _wait(delay: float, why: str) -> None:
        operation = _current.get()
        if operation is not None and operation.remaining() <= delay:
            raise DeadlineExceeded(
                f"the next try would wait {delay:g}s ({why}), past the deadline (gcore:deadline)"
            )
        if delay > 0:
            time.sleep(delay)


_WHOLE_SECONDS: Final = re.compile(r"[0-9]{1,9}")


def parse_retry_after(header: str | None) -> float | None:
    """A ``Retry-After`` value in seconds from now, or None if absent or not a valid value.

    Valid (RFC 9110): a whole number of seconds, or an HTTP date (a date in the past means
    0). Anything else (``1.5``, ``-1``, garbage) is ignored rather than trusted.
    """
    if header is None:
        return None
    text = header.strip()
    if _WHOLE_SECONDS.fullmatch(text):
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


@dataclass(frozen=True)
class Created:
    """A created (or adopted) rule and how it came to be."""

    rule: ApiRule
    how: Literal["created", "adopted", "reconciled"]


def _endpoint(base_url: str) -> tuple[str, str]:
    """The API's host, and ``host:port``, for messages (no credentials, path or query)."""
    parts = urlsplit(base_url)
    host = parts.hostname or "?"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 443 if parts.scheme == "https" else 80
    return host, f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _path(url: str) -> str:
    """Path of a URL without scheme, host or query, for messages."""
    rest = url.split("://", 1)[-1]
    path = "/" + rest.split("/", 1)[1] if "/" in rest else rest
    return path.split("?", 1)[0]


class GcoreClient:
    """Gcore's security-group endpoints, with the retry policy above."""

    def __init__(
        self,
        settings: Settings,
        session: requests.Session | None = None,
        owned: OwnedRules | None = None,
    ) -> None:
        self._settings = settings
        self._host, self._where = _endpoint(settings.base_url)
        self._retry = PolicyRetry(
            total=settings.max_retries,
            connect=settings.max_retries,
            read=settings.max_retries,
            status=settings.max_retries,
            other=0,
            redirect=0,
            allowed_methods=frozenset({"GET", "DELETE"}),
            status_forcelist=RETRY_STATUSES,
            backoff_factor=settings.retry_backoff,
            backoff_max=settings.retry_backoff_max,
            backoff_jitter=settings.retry_backoff,
            respect_retry_after_header=True,
            raise_on_status=False,
            raise_on_redirect=False,
        )
        self._retry.max_retry_after = settings.max_retry_after
        self._session = session or requests.Session()
        # The environment is read once here rather than on every request (requests scans
        # os.environ for proxies per call when trust_env is on), and ~/.netrc is not
        # consulted: a netrc entry for the host would replace the APIKey header.
        self._session.trust_env = False
        self._session.proxies.update(requests.utils.get_environ_proxies(settings.base_url))
        ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if ca_bundle:
            self._session.verify = ca_bundle
        adapter = HTTPAdapter(max_retries=self._retry, pool_connections=4, pool_maxsize=16)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers.update(
            {
                "Authorization": f"APIKey {settings.require_api_key()}",
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            }
        )
        self._groups: GroupReadCache[ApiGroup | None] = GroupReadCache(settings.read_cache_seconds)
        self._snapshots: SnapshotCache[frozenset[str] | None] = SnapshotCache(SNAPSHOT_MAX_AGE)
        self._twins = _KeyedLocks()
        self.owned = owned if owned is not None else OwnedRules()
        """Rules managed by resources of this process: never adopted for another one."""

    def close(self) -> None:
        self._session.close()

    # --- plumbing -------------------------------------------------------------------

    @contextlib.contextmanager
    def _operation(self) -> Iterator[_Operation]:
        """Run under one deadline; a step inside another operation (the reads that
        reconcile a create) shares the outer operation's deadline."""
        deadline = time.monotonic() + self._settings.deadline
        outer = _current.get()
        if outer is not None:
            deadline = min(deadline, outer.deadline)
        operation = _Operation(deadline)
        token = _current.set(operation)
        try:
            yield operation
        finally:
            _current.reset(token)

    def _timeouts(self, method: str) -> tuple[float, float]:
        """(connect, read) timeouts that end within the operation's deadline.

        A POST is not sent at all unless the time left covers a normal answer
        (``MIN_ANSWER_SECONDS``, or the read timeout if smaller) after the connect timeout:
        a POST sent with a hopeless timeout may commit after the provider has given up.
        """
        connect, read = self._settings.connect_timeout, self._settings.timeout
        operation = _current.get()
        if operation is None:
            return connect, read
        remaining = operation.remaining()
        answer = min(read, MIN_ANSWER_SECONDS)
        if remaining <= answer and method == "POST":
            raise DeadlineExceeded(
                "the deadline (gcore:deadline) leaves too little time for an answer, so it "
                "was not sent"
                if remaining > 0
                else _PASSED
            )
        if remaining <= 0:
            raise DeadlineExceeded(_PASSED)
        if remaining <= answer:
            return remaining / 2, remaining / 2
        connect = min(connect, remaining - answer)
        return connect, min(read, remaining - connect)

    def _send(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> requests.Response:
        """One request (urllib3 retries GET/DELETE); errors carry no requests internals."""
        try:
            return self._session.request(
                method,
                self._settings.base_url + path,
                json=body,
                timeout=self._timeouts(method),
                allow_redirects=False,
            )
        except DeadlineExceeded as stop:
            # urllib3 retries POST only while connecting, so a POST stopped here was not sent
            raise TransportError(method, path, f"gave up: {stop}", maybe_sent=False) from None
        except requests.RequestException as error:
            raise _transport_error(method, path, error, self._host, self._where) from None

    def _expect(
        self, response: requests.Response, method: str, path: str, hint: str | None = None
    ) -> Any:
        """The JSON body of a 2xx answer, or the matching error. Only 2xx is success: a
        redirect (never followed) is an error naming gcore:baseUrl."""
        status = response.status_code
        if 200 <= status < 300:
            try:
                return response.json() if response.content else None
            except ValueError:
                raise _unexpected(response, method, path, "the answer is not JSON", hint) from None
        if 300 <= status < 400:
            raise _unexpected(response, method, path, _redirect_reason(response), hint)
        body = _gcore_error_body(response)
        if body is None:
            body = {"message": f"{_reason(response)}; the body is not Gcore's JSON error"}
            raise ApiError.from_status(
                status, method, path, body, hint=_joined(_NOT_GCORE_HINT, hint)
            )
        raise ApiError.from_status(status, method, path, body, hint=hint)

    def _gone(self, response: requests.Response, method: str, path: str) -> bool:
        """True only for a 404 with Gcore's own error body: only Gcore can say "gone".
        A 404 from anything else (an HTML page, an empty body) is an error."""
        if _gcore_404(response):
            return True
        if response.status_code != 404:
            return False
        raise _unexpected(
            response,
            method,
            path,
            "a 404 without Gcore's error body, so it says nothing about the resource",
        )

    def _parse(
        self,
        model: type[_Model],
        response: requests.Response,
        method: str,
        path: str,
        hint: str | None = None,
    ) -> _Model:
        """A 2xx answer as ``model``; an answer of another shape is one readable error."""
        try:
            return model.model_validate(self._expect(response, method, path, hint))
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()[:3]
            )
            raise _unexpected(response, method, path, problems, hint) from None

    @staticmethod
    def _group_path(project_id: int, region_id: int, group_id: str) -> str:
        return f"/cloud/v1/securitygroups/{project_id}/{region_id}/{group_id}"

    # --- reads ----------------------------------------------------------------------

    def get_group(self, project_id: int, region_id: int, group_id: str) -> ApiGroup | None:
        """The group with its rules, read now; None if Gcore says the group is gone."""
        path = self._group_path(project_id, region_id, group_id)
        with self._operation():
            response = self._send("GET", path)
        if self._gone(response, "GET", path):
            return None
        return self._parse(ApiGroup, response, "GET", path)

    def find_rule(
        self, project_id: int, region_id: int, group_id: str, rule_id: str
    ) -> ApiRule | None:
        """The live rule, or None if it or its group is gone (reads are coalesced). Reading
        is not owning: the caller records ownership (see ``SecurityGroupRuleProvider.read``)."""
        key = (project_id, region_id, group_id)
        group = self._groups.get(key, lambda: self.get_group(*key), reader=rule_id.lower())
        return group.find(rule_id) if group is not None else None

    def _snapshot(self, spec: RuleSpec) -> frozenset[str]:
        """Ids of the group's rules before this create's POST (shared between creates)."""
        key = (spec.project_id, spec.region_id, spec.group_id)

        def fetch() -> frozenset[str] | None:
            group = self.get_group(*key)
            return None if group is None else frozenset(r.id for r in group.security_group_rules)

        ids = self._snapshots.get(key, fetch)
        if ids is None:
            self._snapshots.forget(key)
            raise _group_not_found(spec)
        return ids

    # --- writes ---------------------------------------------------------------------

    def _rules_path(self, spec: RuleSpec) -> str:
        if self._settings.rule_api == "v2":
            scope = f"{spec.project_id}/{spec.region_id}/{spec.group_id}"
            return f"/cloud/v2/security_groups/{scope}/rules"
        return self._group_path(spec.project_id, spec.region_id, spec.group_id) + "/rules"

    def create_rule(self, spec: RuleSpec) -> Created:
        """POST the rule exactly once in effect: never a duplicate, never a lost rule, and
        never a rule that was there before (unless ``adopt_existing``).

        With ``gcore:ruleApi`` v2 the POST answers a task; the rule exists when the task
        finishes, and is then read from the group. Everything else is the same for both.
        """
        path = self._rules_path(spec)
        key = (spec.project_id, spec.region_id, spec.group_id)
        # Two creates of the same rule in one process (declared twice) run one after the
        # other, so the second sees the first's rule as owned instead of racing to adopt it.
        attempt = _Attempt()
        with self._twins.hold((key, duplicate_key(spec.as_props()))):
            self._groups.invalidate(key)
            try:
                with self._operation():
                    created = self._create(spec, path, attempt)
            except _Settled as settled:
                created = settled.created
            except GcoreError as error:
                if attempt.ambiguous:
                    raise _with_maybe_created(error, path) from None
                raise
            finally:
                self._groups.invalidate(key)
        if created.how == "adopted":
            self.owned.adopt(created.rule.id)
        else:
            self.owned.add(created.rule.id)
        return created

    def _create(self, spec: RuleSpec, path: str, attempt: _Attempt) -> Created:
        if spec.adopt_existing:
            group = self.get_group(spec.project_id, spec.region_id, spec.group_id)
            if group is None:
                raise _group_not_found(spec)
            existing = _match(spec, group)
            if existing is not None:
                self._refuse_if_owned(spec, path, existing)
                log.warning("gcore: adopting existing rule %s (adopt_existing=True)", existing.id)
                return Created(existing, "adopted")
            before = frozenset(r.id for r in group.security_group_rules)
        else:
            before = self._snapshot(spec)
        retry = self._retry.new()
        v2 = self._settings.rule_api == "v2"
        body = spec.request_body_v2() if v2 else spec.request_body()
        since = datetime.now(timezone.utc) - _TASK_LOOKBACK if v2 else None
        while True:
            if attempt.ambiguous:
                settled = self._settle(spec, path, before, since)
                if settled is not None:
                    return settled
            try:
                response = self._send("POST", path, body)
            except TransportError as error:
                if not error.maybe_sent:
                    # Never sent: urllib3 already retried the connection as often as the
                    # policy allows (connect errors are safe for every method).
                    raise
                attempt.ambiguous = True
                retry = self._retry_or_settle(spec, path, before, since, retry, error.reason)
                continue
            status = response.status_code
            if _succeeded(response) and v2:
                try:
                    return self._created_by_task(spec, path, response, before, attempt.ambiguous)
                except _TaskLost as lost:
                    attempt.ambiguous = True
                    retry = self._retry_or_settle(spec, path, before, since, retry, lost.reason)
                    continue
            if _succeeded(response):
                attempt.ambiguous = True  # an answer of the wrong shape: it may have worked
                return Created(self._parse(ApiRule, response, "POST", path), "created")
            if status == 429:
                ambiguous = attempt.ambiguous
                retry = self._spend_retry(
                    retry, "POST", path, "HTTP 429", response,
                    hint=_MAYBE_CREATED if ambiguous else None,
                    note=_CHECKING_FIRST if ambiguous else "",
                )  # fmt: skip
                continue
            if status >= 500:
                attempt.ambiguous = True
                retry = self._retry_or_settle(
                    spec, path, before, since, retry, f"HTTP {status}", response
                )
                continue
            if status == 409 and _gcore_error_body(response) is not None:
                return self._on_conflict(spec, path, response, attempt.ambiguous, before)
            where = _asked_where(spec.project_id, spec.region_id, _RULE_IDS)
            self._expect(response, "POST", path, hint=where if _gcore_404(response) else None)
            raise _unexpected(response, "POST", path, f"HTTP {status}")

    def _retry_or_settle(
        self,
        spec: RuleSpec,
        path: str,
        before: frozenset[str],
        since: datetime | None,
        retry: PolicyRetry,
        cause: str,
        response: requests.Response | None = None,
    ) -> PolicyRetry:
        """After an ambiguous failure: wait for the next try; when no try (or no time) is
        left, check the group one last time, so that a rule the failed try made is still
        found and adopted (raising ``_Settled``) instead of being left behind."""
        try:
            return self._spend_retry(
                retry, "POST", path, cause, response, hint=_MAYBE_CREATED, note=_CHECKING_FIRST
            )
        except GcoreError:
            settled = self._settle(spec, path, before, since)
            if settled is not None:
                raise _Settled(settled) from None
            raise

    def _created_by_task(
        self,
        spec: RuleSpec,
        path: str,
        response: requests.Response,
        before: frozenset[str],
        ambiguous: bool,
    ) -> Created:
        """v2: wait for the create's task and read the rule it made from the group.

        A task in ERROR made nothing: if the group now holds a matching rule (Gcore refused
        a duplicate through the task instead of a 409), that is settled exactly as a 409;
        otherwise the task's error is the answer. A task that cannot be polled (its answers
        lost) raises ``_TaskLost``, so the create settles as after any ambiguous failure.
        """
        answered = time.monotonic()
        tasks = self._parse(ApiTaskIds, response, "POST", path, _MAYBE_CREATED).tasks
        if not tasks:
            raise _unexpected(response, "POST", path, "no task id in the answer", _MAYBE_CREATED)
        try:
            task = self.wait_for_task(tasks[0], started=answered, hint=_MAYBE_CREATED)
        except TaskFailedError as failed:
            group = self.get_group(spec.project_id, spec.region_id, spec.group_id)
            existing = _match(spec, group) if group is not None else None
            if existing is None:
                raise
            body = {"message": failed.error or "Security group rule already exists"}
            return self._claim(
                spec, path, existing, ours=ambiguous and existing.id not in before, body=body
            )
        except TaskPendingError:
            raise
        except GcoreError as error:  # its polls lost or answered by something else: settle
            raise _TaskLost(f"task {tasks[0]} could not be followed ({error})") from None
        made = task.created_resources.security_group_rules if task.created_resources else None
        key = (spec.project_id, spec.region_id, spec.group_id)
        # Creates finishing together in one group share the read that follows them: any
        # read sent after this POST was answered may hold the rule; if it does not, the
        # group is read again below.
        try:
            group = self._groups.get_fresh(key, lambda: self.get_group(*key), answered)
            rule = group.find(made[0]) if group is not None and made else None
            if rule is None and made:  # not in a shared answer: read once more, alone
                group = self.get_group(*key)
                rule = group.find(made[0]) if group is not None else None
        except GcoreError as error:
            if not made:
                raise
            log.warning(
                "gcore: rule %s was made, but reading its group failed (%s); recording it "
                "with the values asked for: `pulumi refresh` reads the rest",
                made[0],
                error,
            )
            rule = spec.provisional_rule(made[0])
        if rule is None:
            raise ApiError(
                200,
                "GET",
                f"/cloud/v1/tasks/{tasks[0]}",
                "the task finished, but the rule it made is not in the group",
                hint=_MAYBE_CREATED,
            )
        return Created(rule, "created")

    def _settle(
        self, spec: RuleSpec, path: str, before: frozenset[str], since: datetime | None
    ) -> Created | None:
        """After an ambiguous failure: did an earlier try of THIS create make the rule?

        A matching rule that was not in the group before the first POST, and that no other
        resource of this process owns, can only be ours: adopt it. One that was there
        before is someone else's: fail as Gcore's 409 would (or adopt it if allowed).
        None means no match, or the group could not be read now: post again (Gcore
        answers 409 if the earlier try did commit, and that is settled the same way).

        With v2 (``since`` given) a rule appears only when its task finishes, so first wait
        for the project's rule-create tasks still running since just before the first POST.
        """
        if since is not None:
            self._wait_for_rule_tasks(spec, path, since)
        try:
            group = self.get_group(spec.project_id, spec.region_id, spec.group_id)
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
        return self._claim(spec, path, existing, ours=existing.id not in before, body={})

    def _wait_for_rule_tasks(self, spec: RuleSpec, path: str, since: datetime) -> None:
        """v2: wait for the project's rule-create tasks still running (one may be ours). If
        the task list cannot be read, go on: a rule posted again while ours is pending is
        refused by Gcore's duplicate check (409 or task ERROR), which settles the same way."""
        try:
            pending = self._pending_tasks(
                spec.project_id,
                spec.region_id,
                "create_security_group_rule",
                since.isoformat(timespec="seconds"),
            )
        except (TaskPendingError, TaskFailedError):
            raise
        except GcoreError as error:
            log.warning("gcore: POST %s: could not list Gcore's tasks (%s)", path, error)
            return
        for task in pending:
            with contextlib.suppress(TaskFailedError):
                self.wait_for_task(task.id, hint=_MAYBE_CREATED)

    def _on_conflict(
        self,
        spec: RuleSpec,
        path: str,
        response: requests.Response,
        ambiguous: bool,
        before: frozenset[str],
    ) -> Created:
        group = self.get_group(spec.project_id, spec.region_id, spec.group_id)
        existing = _match(spec, group) if group is not None else None
        body = _gcore_error_body(response) or {}
        if existing is None:
            raise ConflictError.from_status(
                409, "POST", path, body, hint=_conflict_hint(spec, None, False)
            )
        return self._claim(
            spec, path, existing, ours=ambiguous and existing.id not in before, body=body
        )

    def _claim(
        self, spec: RuleSpec, path: str, existing: ApiRule, *, ours: bool, body: dict[str, Any]
    ) -> Created:
        """Take ``existing`` if it is this create's own rule (``ours``) or may be adopted;
        otherwise fail with the conflict, naming it."""
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
        if existing.id in self.owned:
            raise _conflict(path, body or {}, _conflict_hint(spec, existing.id, True))

    def delete_rule(self, project_id: int, region_id: int, group_id: str, rule_id: str) -> bool:
        """Delete the rule; False if Gcore says it (or its group) was already gone.

        With ``gcore:ruleApi`` v2 the DELETE answers a task, waited for here. A DELETE is
        safe to send twice, so lost answers are retried; a task that ends in ERROR because
        the rule is already gone (a retried DELETE's twin did it) counts as deleted.
        """
        v2 = self._settings.rule_api == "v2"
        path = (
            f"/cloud/v2/security_groups/{project_id}/{region_id}/{group_id}/rules/{rule_id}"
            if v2
            else f"/cloud/v1/securitygrouprules/{project_id}/{region_id}/{rule_id}"
        )
        try:
            with self._operation():
                response = self._send("DELETE", path)
                if self._gone(response, "DELETE", path):
                    self.owned.discard(rule_id)
                    return False
                answer = self._expect(response, "DELETE", path)
                if v2:
                    self._wait_for_delete(project_id, region_id, group_id, rule_id, path, answer)
        finally:
            self._groups.invalidate((project_id, region_id, group_id))
        self.owned.discard(rule_id)
        return True

    def _wait_for_delete(
        self, project_id: int, region_id: int, group_id: str, rule_id: str, path: str, answer: Any
    ) -> None:
        try:
            tasks = ApiTaskIds.model_validate(answer).tasks
        except ValidationError:
            raise ApiError(200, "DELETE", path, "unexpected answer (no task list)") from None
        for task_id in tasks:
            try:
                self.wait_for_task(task_id)
            except TaskFailedError:
                group = self.get_group(project_id, region_id, group_id)
                if group is not None and group.find(rule_id) is not None:
                    raise
        if not tasks:  # nothing to wait for: believe it only if the rule is gone
            group = self.get_group(project_id, region_id, group_id)
            if group is not None and group.find(rule_id) is not None:
                raise ApiError(
                    200, "DELETE", path, "Gcore answered no task and the rule is still there"
                )

    # --- security groups and tasks (issue 9) ----------------------------------------------
    #
    # Gcore's v2 group writes are asynchronous: they answer task ids, and the change happens
    # when the task finishes (``wait_for_task``). The v2 create is not idempotent and Gcore has
    # no duplicate check for groups (names need not be unique), so after an ambiguous failure
    # ``create_group`` finds out whether the earlier try made the group before posting again:
    #
    # 1. before the POST, note the ids of the groups that already have the name, and Gcore's
    #    clock (the answer's Date header);
    # 2. after a 5xx, a timeout or a dropped connection, wait until every
    #    create_security_group task of the project and region started since shortly before
    #    the POST has ended (a group appears only when its task finishes, so "not listed
    #    yet" is not "never made");
    # 3. list the groups with the name again: one with the requested description and tags
    #    that was not there before is the earlier try's and is adopted; none means nothing
    #    was made, so the POST is sent again; more than one is reported, naming them.
    #
    # A 429 changes nothing and is simply retried. Every step shares the operation's
    # deadline, and nothing is sent once it has passed.

    def wait_for_task(
        self, task_id: str, *, started: float | None = None, hint: str | None = None
    ) -> ApiTask:
        """Poll a task until it ends: FINISHED returns it, ERROR raises ``TaskFailedError``.

        Polls come at ``tasks.poll_offsets`` after ``started`` (a ``time.monotonic()``
        reading, by default now), each a GET under the retry policy, within the operation's
        deadline (``TaskPendingError`` when it comes first, with ``hint`` appended). A task
        still running after ``gcore:taskNoticeAfter`` seconds gets one log line.
        """
        path = f"/cloud/v1/tasks/{task_id}"
        with self._operation() as operation:
            start = time.monotonic() if started is None else started
            last_poll = -math.inf
            state = "NEW"
            noticed = False
            for offset in poll_offsets(self._settings.task_poll_max):
                wake = min(start + offset, operation.deadline - _LAST_POLL_MARGIN)
                if wake <= last_poll:
                    raise TaskPendingError(task_id, state, time.monotonic() - start, hint)
                pause = wake - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                last_poll = wake
                response = self._send("GET", path)
                if not _succeeded(response):
                    gone = _TASK_UNKNOWN if _gcore_404(response) else None
                    self._expect(response, "GET", path, hint=gone)
                task = self._parse(ApiTask, response, "GET", path)
                if task.state == "FINISHED":
                    return task
                if task.state == "ERROR":
                    raise TaskFailedError(task.id, task.task_type, task.error)
                state = task.state
                age = time.monotonic() - start
                if not noticed and age >= self._settings.task_notice_after:
                    noticed = True
                    log.warning(
                        "gcore: task %s (%s) is still %s after %.0fs; waiting for it "
                        "(up to gcore:deadline)",
                        task_id,
                        task.task_type or "?",
                        state,
                        age,
                    )
        raise AssertionError("poll_offsets is endless")  # pragma: no cover

    def list_groups(
        self, project_id: int, region_id: int, name: str | None = None
    ) -> list[ApiGroupSummary]:
        """Every group of the project and region (only those named exactly ``name``)."""
        return self._list_groups(project_id, region_id, name)[0]

    def create_group(self, spec: GroupSpec) -> CreatedGroup:
        """Create the group with no rules, exactly once in effect: never two groups, never
        one the stack does not know about (see the comment above).

        Identical groups declared twice in one program are created one after the other: the
        second lists the groups after the first is made, so it counts that group as one that
        was there before and never takes it for its own.
        """
        identity = ("group", spec.project_id, spec.region_id, spec.name, spec.description,
                    tuple(sorted(spec.tags.items())))  # fmt: skip
        with self._twins.hold(identity):
            return self._create_group(spec)

    def _create_group(self, spec: GroupSpec) -> CreatedGroup:
        path = f"/cloud/v2/security_groups/{spec.project_id}/{spec.region_id}"
        with self._operation():
            before, gcore_now = self._list_groups(spec.project_id, spec.region_id, spec.name)
            known = {group.id for group in before}
            since = (gcore_now - _TASK_LOOKBACK).isoformat(timespec="seconds")
            retry = self._retry.new()
            retried = False
            while True:
                response: requests.Response | None = None
                unanswered = False
                try:
                    response = self._send("POST", path, spec.create_body())
                except TransportError as error:
                    if not error.maybe_sent:
                        raise
                    cause, unanswered = error.reason, True
                else:
                    if _succeeded(response):
                        answered = time.monotonic()
                        try:
                            group = self._new_group(spec, response, path, answered)
                        except _TaskLost as lost:  # accepted, but its outcome unknown: settle
                            cause, response = lost.reason, None
                        else:
                            if retried:
                                self._warn_of_late_twins(spec, known, group.id)
                            return CreatedGroup(group)
                    elif response.status_code == 429:
                        retry = self._spend_retry(retry, "POST", path, "HTTP 429", response)
                        continue
                    else:
                        if response.status_code < 500:
                            where = _asked_where(spec.project_id, spec.region_id)
                            hint = where if _gcore_404(response) else None
                            self._expect(response, "POST", path, hint=hint)
                        cause = f"HTTP {response.status_code}"
                # Ambiguous: the try may still be on its way through Gcore. Wait as the retry
                # policy says, then find out what it did; only then may it be sent again.
                spent = _budget_spent(retry)
                if not spent:
                    retry = _counted(retry, "POST", path, response)
                    try:
                        retry.sleep(response.raw if response is not None else None)
                    except DeadlineExceeded:
                        spent = True
                # A try that got no answer may not have reached Gcore's task queue yet: watch
                # for it up to two read timeouts (10 s at most) before posting again.
                watch = min(2 * self._settings.timeout, _LATE_WATCH_MAX) if unanswered else 0.0
                found = self._made_by_earlier_try(spec, known, since, path, cause, watch)
                if found is not None:
                    log.warning(
                        "gcore: POST %s got %s, but it did create group %s; adopting it",
                        path,
                        cause,
                        found.id,
                    )
                    return CreatedGroup(found, "reconciled")
                if spent:
                    if response is not None:
                        self._expect(response, "POST", path, hint=_NO_GROUP_MADE)
                    raise TransportError(
                        "POST", path, f"{cause}; no retries or time left. {_NO_GROUP_MADE}"
                    )
                retried = True
                log.warning(
                    "gcore: POST %s got %s; no group was made (checked); posting again "
                    "(retry %d of %d)",
                    path,
                    cause,
                    len(retry.history),
                    self._settings.max_retries,
                )

    def update_group(
        self, project_id: int, region_id: int, group_id: str, patch: dict[str, Any]
    ) -> ApiGroup:
        """PATCH the group (v2) with ``patch``, wait for its tasks, and read it back.
        Sending the same PATCH twice is harmless, so it is retried like a GET."""
        path = f"/cloud/v2/security_groups/{project_id}/{region_id}/{group_id}"
        try:
            with self._operation():
                if patch:
                    response = self._send_repeatable("PATCH", path, patch)
                    if not _succeeded(response):
                        gone = _GROUP_GONE if _gcore_404(response) else None
                        self._expect(response, "PATCH", path, hint=gone)
                    for task_id in self._parse(ApiTaskIds, response, "PATCH", path).tasks:
                        self.wait_for_task(task_id)
                group = self.get_group(project_id, region_id, group_id)
        finally:
            self._groups.invalidate((project_id, region_id, group_id))
        if group is None:
            read = self._group_path(project_id, region_id, group_id)
            raise NotFoundError(404, "GET", read, "the group is gone", hint=_GROUP_GONE)
        return group

    def delete_group(self, project_id: int, region_id: int, group_id: str) -> bool:
        """Delete the group (v1) and with it its rules; False if it was already gone."""
        path = self._group_path(project_id, region_id, group_id)
        try:
            with self._operation():
                response = self._send("DELETE", path)
                if self._gone(response, "DELETE", path):
                    return False
                in_use = _GROUP_IN_USE if response.status_code == 409 else None
                body = self._expect(response, "DELETE", path, hint=in_use)
                tasks = body.get("tasks") if isinstance(body, dict) else None
                for task_id in tasks if isinstance(tasks, list) else ():
                    self.wait_for_task(str(task_id))
        finally:
            self._groups.invalidate((project_id, region_id, group_id))
        return True

    # the steps

    def _send_repeatable(
        self, method: str, path: str, body: dict[str, Any] | None
    ) -> requests.Response:
        """Send a request that may safely be sent again, retrying 429, 5xx and lost answers
        as urllib3 does for GET. Returns the first answer that is not retried."""
        retry = self._retry.new()
        while True:
            response: requests.Response | None = None
            try:
                response = self._send(method, path, body)
            except TransportError as error:
                if not error.maybe_sent:
                    raise
                cause = error.reason
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                cause = f"HTTP {response.status_code}"
            retry = self._spend_retry(retry, method, path, cause, response)

    def _spend_retry(
        self,
        retry: PolicyRetry,
        method: str,
        path: str,
        cause: str,
        response: requests.Response | None,
        *,
        hint: str | None = None,
        note: str = "",
    ) -> PolicyRetry:
        """Count one failed try against the budget, log it (with ``note``), and wait as the
        policy says (Retry-After honoured); when the budget or the deadline runs out, raise
        the failure, with ``hint`` (e.g. that an earlier try may have created the rule)."""
        if _budget_spent(retry):
            if response is not None:
                self._expect(response, method, path, hint=hint)
            raise TransportError(
                method, path, _joined(f"{cause}; no retries left (gcore:maxRetries)", hint)
            )
        retry = _counted(retry, method, path, response)
        log.warning(
            "gcore: %s %s got %s%s; retrying (retry %d of %d)",
            method,
            path,
            cause,
            note,
            len(retry.history),
            self._settings.max_retries,
        )
        try:
            retry.sleep(response.raw if response is not None else None)
        except DeadlineExceeded as stop:
            raise TransportError(method, path, _joined(f"gave up: {stop}", hint)) from None
        return retry

    def _new_group(
        self, spec: GroupSpec, response: requests.Response, path: str, answered: float
    ) -> ApiGroup:
        """The group an accepted create made: wait for its task, then read it."""
        tasks = self._parse(ApiTaskIds, response, "POST", path).tasks
        if not tasks:
            raise _unexpected(response, "POST", path, "no task id in the answer")
        task_id = tasks[0]
        hint = (
            f"Gcore accepted the create (task {task_id}): once the task finishes, a group named "
            f"{spec.name!r} exists that this stack does not record. Delete it (Gcore console) "
            "before the next `pulumi up`, which would make another"
        )
        try:
            task = self.wait_for_task(task_id, started=answered, hint=hint)
        except (TaskFailedError, TaskPendingError):
            raise
        except GcoreError as error:  # its polls lost or answered by something else: settle
            raise _TaskLost(f"task {task_id} could not be followed ({error})") from None
        made = task.created_resources.security_groups if task.created_resources else None
        if not made:
            raise ApiError(
                200,
                "GET",
                f"/cloud/v1/tasks/{task_id}",
                "the task finished without naming the group it made",
                hint=hint,
            )
        return self._read_new_group(spec, made[0])

    def _read_new_group(self, spec: GroupSpec, group_id: str) -> ApiGroup:
        """The group this create made, read now; if it cannot be read, what it must be
        (the stack records it either way: never an orphan)."""
        try:
            group = self.get_group(spec.project_id, spec.region_id, group_id)
        except GcoreError as error:
            log.warning(
                "gcore: group %s was made, but reading it failed (%s); recording it with the "
                "values asked for: `pulumi refresh` reads the rest",
                group_id,
                error,
            )
            return ApiGroup.provisional(group_id, spec)
        if group is None:
            read = self._group_path(spec.project_id, spec.region_id, group_id)
            raise NotFoundError(404, "GET", read, "the new group is gone already")
        return group

    def _made_by_earlier_try(
        self,
        spec: GroupSpec,
        known: set[str],
        since: str,
        path: str,
        cause: str,
        watch: float = 0.0,
    ) -> ApiGroup | None:
        """After an ambiguous POST: the group it made, or None if it made none.

        ``watch``: after a try that got no answer at all, Gcore may not have handled it yet;
        keep looking (for its task, then its group) this many seconds before deciding that
        it made nothing.
        """
        until = time.monotonic() + watch
        try:
            while True:
                for task in self._pending_tasks(
                    spec.project_id, spec.region_id, "create_security_group", since
                ):
                    with contextlib.suppress(TaskFailedError):
                        self.wait_for_task(task.id)
                fresh = self._new_twins(spec, known)
                operation = _current.get()
                left = operation.remaining() if operation is not None else math.inf
                if fresh or time.monotonic() >= until or left < 2 * _WATCH_STEP:
                    break
                time.sleep(_WATCH_STEP)
        except GcoreError as error:
            raise TransportError(
                "POST",
                path,
                f"{cause}, and whether that try made the group could not be checked "
                f"({error}). Look for a group named {spec.name!r} in project {spec.project_id}, "
                f"region {spec.region_id} before the next `pulumi up`, and delete it if it is "
                "there (this stack does not record it)",
            ) from None
        if len(fresh) > 1:
            ids = ", ".join(sorted(group.id for group in fresh))
            raise TransportError(
                "POST",
                path,
                f"{cause}; since then {len(fresh)} groups named {spec.name!r} with this "
                f"description and tags have appeared ({ids}), so which one this create made is "
                "unclear. This stack records none of them: delete the ones you do not want and "
                "run `pulumi up` again",
            )
        if not fresh:
            return None
        return self._read_new_group(spec, fresh[0].id)

    def _warn_of_late_twins(self, spec: GroupSpec, known: set[str], made: str) -> None:
        """After a create that took more than one POST: a second new group with this name,
        description and tags can only be an earlier try that Gcore handled after it was
        checked (or someone else's at the same moment). It is not deleted (it may not be
        ours), but named, so it is not left unnoticed."""
        try:
            late = [g.id for g in self._new_twins(spec, known) if g.id != made]
        except GcoreError as error:
            log.warning("gcore: group %s made; could not check for a late twin (%s)", made, error)
            return
        if late:
            log.warning(
                "gcore: group %s made, but %s with the same name, description and tags also "
                "appeared since (an earlier try that Gcore handled late, or someone else's): "
                "this stack does not record it; delete it if it is not yours",
                made,
                ", ".join(sorted(late)),
            )

    def _new_twins(self, spec: GroupSpec, known: set[str]) -> list[ApiGroupSummary]:
        """Groups matching ``spec`` that were not there before and no resource here owns."""
        return [
            group
            for group in self.list_groups(spec.project_id, spec.region_id, spec.name)
            if group.id not in known and spec.matches(group)
        ]

    def _list_groups(
        self, project_id: int, region_id: int, name: str | None
    ) -> tuple[list[ApiGroupSummary], datetime]:
        """Every page of the group list, and Gcore's time at the first answer."""
        path = f"/cloud/v1/securitygroups/{project_id}/{region_id}"
        query: dict[str, Any] = {"limit": _PAGE_SIZE} | ({"name": name} if name else {})
        groups: list[ApiGroupSummary] = []
        gcore_now: datetime | None = None
        with self._operation():
            while True:
                page, response = self._get_page(ApiGroupPage, path, query | {"offset": len(groups)})
                gcore_now = gcore_now or _gcore_time(response)
                groups.extend(page.results)
                if not page.results or len(groups) >= page.count:
                    break
        wanted = [group for group in groups if name is None or group.name == name]
        return wanted, gcore_now

    def _pending_tasks(
        self, project_id: int, region_id: int, task_type: str, since: str
    ) -> list[ApiTask]:
        """Tasks of this type in the project and region, created since ``since`` (an ISO
        time by Gcore's clock), that have not ended yet."""
        path = "/cloud/v1/tasks"
        query: dict[str, Any] = {
            "project_id": project_id,
            "region_id": region_id,
            "task_type": task_type,
            "state": list(PENDING_STATES),
            "from_timestamp": since,
            "limit": _PAGE_SIZE,
        }
        tasks: list[ApiTask] = []
        with self._operation():
            while True:
                page, _ = self._get_page(ApiTaskPage, path, query | {"offset": len(tasks)})
                tasks.extend(page.results)
                if not page.results or len(tasks) >= page.count:
                    break
        return [
            task
            for task in tasks
            if task.state in PENDING_STATES
            and task.task_type in (None, task_type)
            and task.project_id in (None, project_id)
            and task.region_id in (None, region_id)
        ]

    def _get_page(
        self, model: type[_Model], path: str, query: dict[str, Any]
    ) -> tuple[_Model, requests.Response]:
        """GET ``path`` with a query; messages show the path without it."""
        try:
            response = self._send("GET", f"{path}?{urlencode(query, doseq=True)}")
        except TransportError as error:
            raise TransportError("GET", path, error.reason, maybe_sent=error.maybe_sent) from None
        return self._parse(model, response, "GET", path), response


@dataclass
class _Attempt:
    """How one create is going: ``ambiguous`` once a try may have made the rule."""

    ambiguous: bool = False


class _Settled(Exception):
    """The last check after the tries ran out found the rule an earlier try made."""

    def __init__(self, created: Created) -> None:
        super().__init__(created.rule.id)
        self.created = created


def _with_maybe_created(error: GcoreError, path: str) -> GcoreError:
    """``error`` saying that an earlier try may have created the rule (once)."""
    if _MAYBE_CREATED in str(error) or isinstance(error, (ConflictError, NotFoundError)):
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
            hint=_joined(error.hint, _MAYBE_CREATED) if error.hint else _MAYBE_CREATED,
        )
    return TransportError("POST", path, _joined(str(error), _MAYBE_CREATED), maybe_sent=True)


class _TaskLost(Exception):
    """A v2 create's task could not be followed: the create is ambiguous."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _KeyedLocks:
    """One lock per key, made on demand and dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[Hashable, tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def hold(self, key: Hashable) -> Iterator[None]:
        with self._lock:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._lock:
                lock, users = self._locks[key]
                if users <= 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


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
        f"/cloud/v1/securitygroups/{spec.project_id}/{spec.region_id}/{spec.group_id}",
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


_CHECKING_FIRST: Final = " (checking the group first)"
"""Logged with the retry of a POST that may have worked: the group is read before it."""

_PASSED: Final = "the deadline (gcore:deadline) has passed, so it was not sent"

_MAYBE_CREATED: Final = (
    "An earlier try may have created the rule: if the next `pulumi up` reports it as "
    "already existing (409), that is this rule; adopt it with adopt_existing=True, or delete it"
)

_NOT_GCORE_HINT: Final = (
    "This answer did not come from Gcore's API (no Gcore error body): is gcore:baseUrl "
    "the Gcore API, with no proxy in between that answers for it?"
)


_RULE_IDS: Final = "; and that group_id (and any remote_group_id) is a group there"


def _asked_where(project_id: int, region_id: int, also: str = "") -> str:
    """The hint of a Gcore 404 on a create: where the create was sent, and what sets that."""
    return (
        f"Asked in project {project_id}, region {region_id}: check gcore:projectId / "
        f"gcore:regionId or the resource's project_id/region_id{also}"
    )


def _joined(text: str, hint: str | None) -> str:
    return f"{text}. {hint}" if hint else text


def _reason(response: requests.Response) -> str:
    return f"HTTP {response.status_code} {response.reason or ''}".strip()


def _gcore_404(response: requests.Response) -> bool:
    """A 404 that Gcore itself answered (its error body): only that says "not there"."""
    return response.status_code == 404 and _gcore_error_body(response) is not None


def _succeeded(response: requests.Response) -> bool:
    """Only a 2xx is success (requests' ``ok`` also counts redirects)."""
    return 200 <= response.status_code < 300


def _gcore_error_body(response: requests.Response) -> dict[str, Any] | None:
    """Gcore's JSON error body (it always names an ``exception_class``), else None."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("exception_class"), str):
        return body
    return None


def _redirect_reason(response: requests.Response) -> str:
    location = response.headers.get("Location", "")
    target = urlsplit(location)
    where = f" to {target.scheme}://{target.netloc}{target.path}" if target.netloc else ""
    return f"a redirect ({response.status_code}){where}, which is never followed"


def _unexpected(
    response: requests.Response, method: str, path: str, what: str, hint: str | None = None
) -> UnexpectedAnswerError:
    return UnexpectedAnswerError(
        response.status_code,
        method,
        path,
        f"unexpected answer ({what})",
        request_id=response.headers.get("X-Request-ID"),
        hint=_joined(_NOT_GCORE_HINT, hint),
    )


_NEVER_SENT: Final = (
    requests.exceptions.InvalidHeader,
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
    requests.exceptions.URLRequired,
    requests.exceptions.InvalidJSONError,
)


def _transport_error(
    method: str, path: str, error: requests.RequestException, host: str, where: str
) -> TransportError:
    """A one-line reason for a requests failure, naming ``host`` / ``where`` (host:port, never
    the key or a query) and what to check, and remembering whether anything was sent."""
    if isinstance(error, requests.ConnectTimeout):
        reason = (
            f"could not connect to {where} (timed out): check the network, any firewall or "
            "proxy in between, and gcore:baseUrl"
        )
        sent = False
    elif isinstance(error, requests.ReadTimeout):
        reason = f"no answer from {where} before the read timeout (gcore:timeout)"
        sent = True
    elif isinstance(error, requests.ConnectionError) and _refused(error):
        reason = _connect_failure(error, host, where)
        sent = False
    elif isinstance(error, requests.exceptions.SSLError) and _certificate_refused(error):
        reason = "TLS handshake failed: the server's certificate is not trusted"
        sent = False
    elif isinstance(error, requests.exceptions.SSLError):
        # urllib3 reports a TLS failure while reading the answer as the same SSLError as
        # one during the handshake: the request may have been sent.
        reason = "the TLS connection failed"
        sent = True
    elif isinstance(error, requests.exceptions.ProxyError):
        # Flagged as before (a ConnectionError: maybe sent); only the wording names the proxy.
        reason = _proxy_failure(error, where)
        sent = True
    elif isinstance(error, requests.ConnectionError) and _read_timed_out(error):
        reason = f"no answer from {where} before the read timeout (gcore:timeout)"
        sent = True
    elif isinstance(error, requests.ConnectionError):
        reason = (
            f"the connection to {where} was dropped before an answer came (closed or reset "
            "by the server or something in between)"
        )
        sent = True
    elif isinstance(error, _NEVER_SENT):
        reason = f"the request could not be built ({type(error).__name__}); nothing was sent"
        sent = False
    else:
        reason = type(error).__name__
        sent = True
    if isinstance(error, requests.exceptions.SSLError):  # the TLS reasons above name no host
        check = "; check gcore:baseUrl, or REQUESTS_CA_BUNDLE for a private CA" if not sent else ""
        reason = f"{reason} ({where}{check})"
        if sent and is_loopback(host):  # not for a refused certificate: that server speaks TLS
            reason += "; a local Gcore emulator speaks plain http: use http:// in gcore:baseUrl"
    return TransportError(method, path, reason, maybe_sent=sent)


def _connect_failure(error: requests.ConnectionError, host: str, where: str) -> str:
    """Why no connection was made: the name did not resolve, nothing listens, or the
    network has no way there."""
    causes = list(_causes(error))
    if any(isinstance(c, (NameResolutionError, socket.gaierror)) for c in causes):
        return (
            f"could not resolve host {host} (DNS): check the host name in gcore:baseUrl and "
            "this machine's DNS"
        )
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return (
            f"could not connect to {where} (connection refused): nothing listens there; check "
            "gcore:baseUrl (host and port)"
        )
    why = next((c.strerror for c in causes if isinstance(c, OSError) and c.strerror), None)
    return (
        f"could not connect to {where} ({why or 'host unreachable'}): check the network and "
        "gcore:baseUrl"
    )


def _proxy_failure(error: requests.exceptions.ProxyError, where: str) -> str:
    """Why the proxy (HTTPS_PROXY / HTTP_PROXY) did not take the request to ``where``: it
    refused the connection, its name did not resolve, or it refused the tunnel. The proxy is
    named by host:port only (its URL may hold a user and password)."""
    causes = list(_causes(error))
    proxy = "proxy"
    for cause in causes:
        conn = getattr(cause, "conn", None) if isinstance(cause, NewConnectionError) else None
        host, port = getattr(conn, "host", None), getattr(conn, "port", None)
        if isinstance(host, str) and host:
            shown = f"[{host}]" if ":" in host else host
            proxy = f"proxy {shown}:{port}" if port else f"proxy {shown}"
            break
    tunnel = next((str(c) for c in causes if str(c).startswith("Tunnel connection failed")), None)
    if any(isinstance(c, (NameResolutionError, socket.gaierror)) for c in causes):
        why = "its name did not resolve"
    elif any(isinstance(c, ConnectionRefusedError) for c in causes):
        why = "connection refused"
    elif tunnel is not None:
        why = f"it refused to open a tunnel: {tunnel[:120]}"
    else:
        why = next(
            (c.strerror for c in causes if isinstance(c, OSError) and c.strerror),
            "no usable answer",
        )
    return (
        f"could not reach {where} through the {proxy} ({why}): check HTTPS_PROXY / HTTP_PROXY, "
        "or NO_PROXY for hosts to reach directly"
    )


def _read_timed_out(error: requests.ConnectionError) -> bool:
    """A GET's retries ended on read timeouts (requests reports that as a ConnectionError)."""
    return any(isinstance(cause, ReadTimeoutError) for cause in _causes(error))


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and every exception it wraps (urllib3 nests them in ``reason`` and args)."""
    seen: set[int] = set()
    todo: list[Any] = [error]
    while todo:
        current = todo.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
        todo.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))


def _certificate_refused(error: requests.exceptions.SSLError) -> bool:
    """True when certificate verification failed (during the handshake: nothing sent)."""
    return any(isinstance(cause, ssl.SSLCertVerificationError) for cause in _causes(error))


def _refused(error: requests.ConnectionError) -> bool:
    cause: Any = error.args[0] if error.args else None
    reason = getattr(cause, "reason", cause)
    return isinstance(reason, NewConnectionError)


# --- security groups and tasks (issue 9): module-level helpers --------------------------------


@dataclass(frozen=True)
class CreatedGroup:
    """A created (or, after a lost answer, adopted) group and how it came to be."""

    group: ApiGroup
    how: Literal["created", "reconciled"] = "created"


_PAGE_SIZE: Final = 1000
"""Gcore's largest page for list calls."""
_LAST_POLL_MARGIN: Final = 0.05
"""The last poll of a task comes this long before the deadline, leaving it time to answer."""
_TASK_LOOKBACK: Final = timedelta(seconds=60)
"""How long before the POST (by Gcore's clock) a create task may date and still be ours."""
_LATE_WATCH_MAX: Final = 10.0
"""Longest look for the group of a try that got no answer, before posting again."""
_WATCH_STEP: Final = 0.25
"""Seconds between looks for a group (or its task) that a try without answer may still make."""
_TASK_UNKNOWN: Final = "Gcore does not know this task (was it made in another region's API?)"
_GROUP_GONE: Final = (
    "The group is gone (deleted outside Pulumi?): `pulumi refresh` drops it from the stack, "
    "then `pulumi up` makes it again"
)
_GROUP_IN_USE: Final = (
    "The group is still attached to instances (or ports): detach it from them, or delete "
    "those instances, then run `pulumi destroy` (or `pulumi up`) again"
)


_NO_GROUP_MADE: Final = "No group was made (checked), so none is left behind"


def _budget_spent(retry: PolicyRetry) -> bool:
    return isinstance(retry.total, int) and retry.total <= 0


def _counted(retry: PolicyRetry, method: str, path: str, response: Any) -> PolicyRetry:
    """``retry`` with one more failed try of ``method`` ``path`` counted against it."""
    status = response.status_code if response is not None else None
    history = (*retry.history, RequestHistory(method, path, None, status, None))
    total = retry.total - 1 if isinstance(retry.total, int) else retry.total
    return retry.new(total=total, history=history)


def _gcore_time(response: requests.Response) -> datetime:
    """Gcore's clock from an answer's Date header (ours when it has none)."""
    stamp = response.headers.get("Date")
    if stamp:
        with contextlib.suppress(TypeError, ValueError):
            parsed = email.utils.parsedate_to_datetime(stamp)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc)
