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
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

import requests
from pydantic import BaseModel, ValidationError
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError
from urllib3.util.retry import RequestHistory, Retry

from ._version import __version__
from .errors import ApiError, ConflictError, RateLimitError, ServerError, TransportError
from .group_cache import GroupReadCache
from .models import ApiGroup, ApiRule, RuleSpec
from .schema import duplicate_key
from .settings import Settings

log = logging.getLogger("gcore_pulumi")
_Model = TypeVar("_Model", bound=BaseModel)

USER_AGENT: Final = f"gcore-pulumi/{__version__} (+https://pypi.org/project/gcore-pulumi)"
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})


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
    """urllib3's Retry plus this provider's overall deadline and one log line per retry."""

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

    def _budget(self) -> int | str:
        total = self.total if isinstance(self.total, int) else None
        return (total + len(self.history)) if total is not None else "?"

    def sleep(self, response: Any = None) -> None:
        delay, why = self.get_backoff_time(), "backoff"
        if self.respect_retry_after_header and response is not None:
            after = self.get_retry_after(response)
            if after is not None:
                delay, why = after, "the server's Retry-After"
        operation = _current.get()
        if operation is not None and operation.remaining() <= delay:
            raise DeadlineExceeded(
                f"the next try would wait {delay:g}s ({why}), past the deadline (gcore:deadline)"
            )
        if delay > 0:
            time.sleep(delay)


@dataclass(frozen=True)
class Created:
    """A created (or adopted) rule and how it came to be."""

    rule: ApiRule
    how: Literal["created", "adopted", "reconciled"]


def _path(url: str) -> str:
    """Path of a URL without scheme, host or query, for messages."""
    rest = url.split("://", 1)[-1]
    path = "/" + rest.split("/", 1)[1] if "/" in rest else rest
    return path.split("?", 1)[0]


class GcoreClient:
    """Gcore's security-group endpoints, with the retry policy above."""

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        self._settings = settings
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
            retry_after_max=int(settings.max_retry_after),
            raise_on_status=False,
            raise_on_redirect=False,
        )
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

    def _send(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> requests.Response:
        """One request (urllib3 retries GET/DELETE); errors carry no requests internals."""
        operation = _current.get()
        read_timeout = self._settings.timeout
        if operation is not None:
            read_timeout = max(0.001, min(read_timeout, operation.remaining()))
        try:
            return self._session.request(
                method,
                self._settings.base_url + path,
                json=body,
                timeout=(self._settings.connect_timeout, read_timeout),
                allow_redirects=False,
            )
        except DeadlineExceeded as stop:
            # urllib3 retries POST only while connecting, so a POST stopped here was not sent
            raise TransportError(method, path, f"gave up: {stop}", maybe_sent=False) from None
        except requests.RequestException as error:
            raise _transport_error(method, path, error) from None

    def _expect(
        self, response: requests.Response, method: str, path: str, hint: str | None = None
    ) -> Any:
        """The JSON body of a 2xx answer, or the matching ApiError."""
        if response.ok:
            try:
                return response.json() if response.content else None
            except ValueError:
                raise _unexpected(response, method, path, "the answer is not JSON") from None
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text[:200] or response.reason}
        raise ApiError.from_status(response.status_code, method, path, body, hint=hint)

    def _parse(
        self, model: type[_Model], response: requests.Response, method: str, path: str
    ) -> _Model:
        """A 2xx answer as ``model``; an answer of another shape is one readable error."""
        try:
            return model.model_validate(self._expect(response, method, path))
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()[:3]
            )
            raise _unexpected(response, method, path, problems) from None

    @staticmethod
    def _group_path(project_id: int, region_id: int, group_id: str) -> str:
        return f"/cloud/v1/securitygroups/{project_id}/{region_id}/{group_id}"

    # --- reads ----------------------------------------------------------------------

    def get_group(self, project_id: int, region_id: int, group_id: str) -> ApiGroup | None:
        """The group with its rules, read now; None if the group is gone."""
        path = self._group_path(project_id, region_id, group_id)
        with self._operation():
            response = self._send("GET", path)
        if response.status_code == 404:
            return None
        return self._parse(ApiGroup, response, "GET", path)

    def find_rule(
        self, project_id: int, region_id: int, group_id: str, rule_id: str
    ) -> ApiRule | None:
        """The live rule, or None if it or its group is gone (reads are coalesced)."""
        key = (project_id, region_id, group_id)
        group = self._groups.get(key, lambda: self.get_group(*key), reader=rule_id.lower())
        return group.find(rule_id) if group is not None else None

    def _find_match(self, spec: RuleSpec) -> ApiRule | None:
        """A rule in the group that Gcore would call a duplicate of ``spec``."""
        group = self.get_group(spec.project_id, spec.region_id, spec.group_id)
        if group is None:
            return None
        wanted = duplicate_key(spec.as_props())
        return next(
            (
                rule
                for rule in group.security_group_rules
                if duplicate_key(rule.as_rule()) == wanted
            ),
            None,
        )

    def _find_match_if_readable(self, spec: RuleSpec, path: str) -> ApiRule | None:
        """Like ``_find_match``, but a group that cannot be read now is no reason to stop:
        posting again is still safe, since Gcore answers 409 if the earlier try committed."""
        try:
            return self._find_match(spec)
        except (ServerError, RateLimitError, TransportError) as error:
            log.warning(
                "gcore: POST %s: could not check the group (%s); posting again", path, error
            )
            return None

    # --- writes ---------------------------------------------------------------------

    def create_rule(self, spec: RuleSpec) -> Created:
        """POST the rule exactly once in effect: never a duplicate, never a lost rule."""
        path = self._group_path(spec.project_id, spec.region_id, spec.group_id) + "/rules"
        self._groups.invalidate((spec.project_id, spec.region_id, spec.group_id))
        try:
            with self._operation():
                return self._create(spec, path)
        finally:
            self._groups.invalidate((spec.project_id, spec.region_id, spec.group_id))

    def _create(self, spec: RuleSpec, path: str) -> Created:
        retry = self._retry.new()
        ambiguous = False
        if spec.adopt_existing:
            existing = self._find_match(spec)
            if existing is not None:
                log.warning("gcore: adopting existing rule %s (adopt_existing=True)", existing.id)
                return Created(existing, "adopted")
        while True:
            if ambiguous:
                existing = self._find_match_if_readable(spec, path)
                if existing is not None:
                    log.warning(
                        "gcore: POST %s: the earlier try did create rule %s; adopting it",
                        path,
                        existing.id,
                    )
                    return Created(existing, "reconciled")
            try:
                response = self._send("POST", path, spec.request_body())
            except TransportError as error:
                if not error.maybe_sent:
                    # Never sent: urllib3 already retried the connection as often as the
                    # policy allows (connect errors are safe for every method).
                    raise
                ambiguous = True
                retry = self._next_try(retry, path, error.reason, None, ambiguous)
                continue
            status = response.status_code
            if response.ok:
                return Created(self._parse(ApiRule, response, "POST", path), "created")
            if status == 429:
                retry = self._next_try(retry, path, "HTTP 429", response, ambiguous)
                continue
            if status >= 500:
                ambiguous = True
                retry = self._next_try(retry, path, f"HTTP {status}", response, ambiguous)
                continue
            if status == 409:
                return self._on_conflict(spec, path, response, ambiguous)
            self._expect(response, "POST", path)

    def _next_try(
        self,
        retry: PolicyRetry,
        path: str,
        cause: str,
        response: requests.Response | None,
        ambiguous: bool,
    ) -> PolicyRetry:
        """Count a failed POST against the budget and wait as the policy says; when the
        budget or the deadline runs out, fail saying whether an earlier try may have worked."""
        maybe = _MAYBE_CREATED if ambiguous else None
        if isinstance(retry.total, int) and retry.total <= 0:
            if response is not None:
                self._expect(response, "POST", path, hint=maybe)
            raise TransportError(
                "POST", path, _joined(f"{cause}; no retries left (gcore:maxRetries)", maybe)
            )
        remaining = retry.total - 1 if isinstance(retry.total, int) else retry.total
        history = (*retry.history, _history(path, response))
        retry = retry.new(total=remaining, history=history)
        log.warning(
            "gcore: POST %s got %s%s; retrying (retry %d of %d)",
            path,
            cause,
            " (checking the group first)" if ambiguous else "",
            len(history),
            self._settings.max_retries,
        )
        try:
            retry.sleep(response.raw if response is not None else None)
        except DeadlineExceeded as stop:
            raise TransportError("POST", path, _joined(f"gave up: {stop}", maybe)) from None
        return retry

    def _on_conflict(
        self, spec: RuleSpec, path: str, response: requests.Response, ambiguous: bool
    ) -> Created:
        existing = self._find_match(spec)
        if existing is not None and (ambiguous or spec.adopt_existing):
            how: Literal["adopted", "reconciled"] = "reconciled" if ambiguous else "adopted"
            log.warning("gcore: POST %s answered 409; adopting rule %s", path, existing.id)
            return Created(existing, how)
        where = f" as rule {existing.id}" if existing is not None else ""
        hint = (
            f"An identical rule already exists in group {spec.group_id}{where} (Gcore compares "
            "every field but description). Delete that rule, or set adopt_existing=True on "
            "this resource to bring it under management"
        )
        try:
            body = response.json()
        except ValueError:
            body = {}
        raise ConflictError.from_status(409, "POST", path, body, hint=hint)

    def delete_rule(self, project_id: int, region_id: int, group_id: str, rule_id: str) -> bool:
        """Delete the rule; False if it (or its group) was already gone."""
        path = f"/cloud/v1/securitygrouprules/{project_id}/{region_id}/{rule_id}"
        try:
            with self._operation():
                response = self._send("DELETE", path)
        finally:
            self._groups.invalidate((project_id, region_id, group_id))
        if response.status_code == 404:
            return False
        self._expect(response, "DELETE", path)
        return True


_MAYBE_CREATED: Final = (
    "An earlier try may have created the rule: if the next `pulumi up` reports it as "
    "already existing (409), that is this rule; adopt it with adopt_existing=True, or delete it"
)


def _joined(text: str, hint: str | None) -> str:
    return f"{text}. {hint}" if hint else text


def _unexpected(response: requests.Response, method: str, path: str, what: str) -> ApiError:
    return ApiError(
        response.status_code,
        method,
        path,
        f"unexpected answer ({what})",
        request_id=response.headers.get("X-Request-ID"),
        hint="Is gcore:baseUrl the Gcore API?",
    )


def _history(path: str, response: requests.Response | None) -> RequestHistory:
    """A failed POST in the shape urllib3's backoff counts."""
    return RequestHistory("POST", path, None, response.status_code if response else None, None)


def _transport_error(method: str, path: str, error: requests.RequestException) -> TransportError:
    """A one-line reason for a requests failure, remembering whether anything was sent."""
    if isinstance(error, requests.ConnectTimeout):
        reason = "could not connect (timed out)"
        sent = False
    elif isinstance(error, requests.ReadTimeout):
        reason = "no answer before the read timeout (gcore:timeout)"
        sent = True
    elif isinstance(error, requests.ConnectionError) and _refused(error):
        reason = "could not connect (connection refused or host unreachable)"
        sent = False
    elif isinstance(error, requests.exceptions.SSLError):
        reason = "TLS handshake failed (certificate not trusted?)"
        sent = False
    elif isinstance(error, requests.ConnectionError):
        reason = "connection dropped before an answer came"
        sent = True
    else:
        reason = type(error).__name__
        sent = True
    return TransportError(method, path, reason, maybe_sent=sent)


def _refused(error: requests.ConnectionError) -> bool:
    cause: Any = error.args[0] if error.args else None
    reason = getattr(cause, "reason", cause)
    return isinstance(reason, NewConnectionError)
