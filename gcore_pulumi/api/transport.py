"""Requests to Gcore and the reading of their answers: the one session, the timeouts that
fit the deadline, send, expect, gone, parse, every page of a list, and the hand-run retry
loops (PATCH; the POST loops count their tries with the same ``spend``).

One ``requests.Session`` is shared by all threads of the provider process: urllib3's pool
is thread-safe and keeps connections alive between calls.
"""

from __future__ import annotations

import logging
import os
from contextlib import AbstractContextManager
from typing import Any, Final, TypeVar, cast
from urllib.parse import urlencode

import requests
from pydantic import BaseModel, ValidationError
from requests.adapters import HTTPAdapter

from .._version import __version__
from ..errors import (
    ApiError,
    BrokenAnswerError,
    CutOffAnswerError,
    TransportError,
    UnexpectedAnswerError,
)
from ..settings import DEFAULT_BASE_URL, Settings
from . import retry as policy
from .answers import (
    NOT_GCORE_HINT,
    gcore_404,
    gcore_error_body,
    joined,
    reason,
    redirect_reason,
    succeeded,
    unexpected,
)
from .diagnosis import _transport_error, endpoint
from .retry import RETRY_STATUSES, DeadlineExceeded, DeadlineTimeout, Retries, _Operation

log = logging.getLogger("gcore_pulumi")
_Model = TypeVar("_Model", bound=BaseModel)

USER_AGENT: Final = f"gcore-pulumi/{__version__} (+https://pypi.org/project/gcore-pulumi)"
PAGE_SIZE: Final = 1000
"""Gcore's largest page for list calls."""


class Transport:
    """One session to ``gcore:baseUrl`` under the retry policy; answers read strictly."""

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        self._settings = settings
        self._host, self._where = endpoint(settings.base_url)
        self.policy = policy.policy(settings)
        self.session = session or requests.Session()
        # The environment is read once here rather than on every request (requests scans
        # os.environ for proxies per call when trust_env is on), and ~/.netrc is not
        # consulted: a netrc entry for the host would replace the APIKey header.
        self.session.trust_env = False
        self.session.proxies.update(requests.utils.get_environ_proxies(settings.base_url))
        ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if ca_bundle:
            self.session.verify = ca_bundle
        adapter = HTTPAdapter(max_retries=self.policy, pool_connections=4, pool_maxsize=16)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers.update(
            {
                "Authorization": f"APIKey {settings.require_api_key()}",
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            }
        )

    def close(self) -> None:
        self.session.close()

    def operation(self) -> AbstractContextManager[_Operation]:
        """One operation under ``gcore:deadline`` (nested: the outer one's deadline)."""
        return policy.operation(self._settings.deadline)

    def timeouts(self, method: str) -> tuple[float, float]:
        return policy.timeouts(method, self._settings.connect_timeout, self._settings.timeout)

    def _timeout(self, method: str) -> DeadlineTimeout:
        """The timeouts of one request, worked out afresh for each of urllib3's tries."""
        return DeadlineTimeout(method, self._settings.connect_timeout, self._settings.timeout)

    def retries(self) -> Retries:
        """A fresh budget for one hand-run retry loop."""
        return Retries(self.policy)

    # --- one request ------------------------------------------------------------------

    def send(self, method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        """One request (urllib3 retries GET/DELETE); errors carry no requests internals.
        A GET whose answer is cut off is sent again, like one whose answer was lost; for
        other methods a cut-off answer is ``CutOffAnswerError`` (the write's outcome unknown)."""
        retries: Retries | None = None
        while True:
            try:
                return self._send_once(method, path, body)
            except CutOffAnswerError as error:
                if method != "GET":
                    raise
                retries = retries or self.retries()
                self.spend(retries, method, path, error.reason, None)

    def _send_once(self, method: str, path: str, body: dict[str, Any] | None) -> requests.Response:
        try:
            response = self.session.request(
                method,
                self._settings.base_url + path,
                json=body,
                timeout=cast(Any, self._timeout(method)),  # requests passes it to urllib3
                allow_redirects=False,
            )
        except DeadlineExceeded as stop:
            # raised before a try (DeadlineTimeout) or a wait; urllib3 retries a POST only
            # after a failed connect, so a POST stopped here was not sent
            raise TransportError(method, path, f"gave up: {stop}", maybe_sent=False) from None
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
            why = f"the answer from {self._where} was cut off (its body ended early or broke)"
            raise CutOffAnswerError(method, path, why) from None
        except requests.RequestException as error:
            raise _transport_error(method, path, error, self._host, self._where) from None
        if self.policy.reach is not None:
            self.policy.reach.answered = True
        return response

    def expect(
        self,
        response: requests.Response,
        method: str,
        path: str,
        hint: str | None = None,
        *,
        if_gone: str | None = None,
    ) -> Any:
        """The JSON body of a 2xx answer, or the matching error. Only 2xx is success: a
        redirect (never followed) is an error naming gcore:baseUrl. ``if_gone`` is the hint
        of a 404 that Gcore itself answered (what was not found, and what to check)."""
        if if_gone is not None and gcore_404(response):
            hint = if_gone
        status = response.status_code
        if 200 <= status < 300:
            try:
                return response.json() if response.content else None
            except ValueError:
                what = "the answer is not JSON"
                raise unexpected(response, method, path, what, hint, BrokenAnswerError) from None
        if 300 <= status < 400:
            raise unexpected(response, method, path, redirect_reason(response), hint)
        body = gcore_error_body(response)
        if body is None:
            body = {"message": f"{reason(response)}; the body is not Gcore's JSON error"}
            raise ApiError.from_status(
                status, method, path, body, hint=joined(NOT_GCORE_HINT, hint)
            )
        raise ApiError.from_status(status, method, path, body, hint=hint)

    def not_found(self, response: requests.Response, method: str, path: str) -> bool:
        """True for a 404 with Gcore's own error body: Gcore's claim that the URL names
        nothing, which Gcore makes for a route it does not serve too, so it is a claim to
        prove (``Groups.gone``), never proof. A 404 from anything else (an HTML page, an
        empty body) is an error."""
        if gcore_404(response):
            return True
        if response.status_code != 404:
            return False
        raise unexpected(
            response,
            method,
            path,
            "a 404 without Gcore's error body, so it says nothing about the resource",
        )

    def unproven(
        self, response: requests.Response, method: str, path: str, why: str, also: str = ""
    ) -> UnexpectedAnswerError:
        """The error for Gcore's 404 that could not be proven to be about the resource
        (``why``): it names gcore:baseUrl and the URL that was tried."""
        body = gcore_error_body(response) or {}
        said = body.get("message") or "not found"
        return UnexpectedAnswerError(
            404,
            method,
            path,
            f"{said} (not taken as gone: {why}; Gcore answers the same 404 for a URL it "
            "does not serve)",
            request_id=_text(body.get("request_id")) or response.headers.get("X-Request-ID"),
            hint=f"Check gcore:baseUrl ({self._settings.base_url}): it must be Gcore's API root "
            f"without a path, e.g. {DEFAULT_BASE_URL}{also}. The URL tried was "
            f"{self.url(path)}",
        )

    def url(self, path: str) -> str:
        """The full URL of ``path`` for messages (without its query)."""
        return self._settings.base_url + path.split("?", 1)[0]

    def parse(
        self,
        model: type[_Model],
        response: requests.Response,
        method: str,
        path: str,
        hint: str | None = None,
        *,
        if_gone: str | None = None,
    ) -> _Model:
        """A 2xx answer as ``model``; an answer of another shape is one readable error."""
        try:
            return model.model_validate(self.expect(response, method, path, hint, if_gone=if_gone))
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()[:3]
            )
            broken = BrokenAnswerError if succeeded(response) else UnexpectedAnswerError
            raise unexpected(response, method, path, problems, hint, broken) from None

    # --- lists and loops ----------------------------------------------------------------

    def every(
        self, model: type[BaseModel], path: str, query: dict[str, Any]
    ) -> tuple[list[Any], requests.Response]:
        """Every item of a paged list (``model`` has ``count`` and ``results``; ``query``
        its ``limit``), and the first page's answer (Gcore's clock is in its Date)."""
        items: list[Any] = []
        first: requests.Response | None = None
        with self.operation():
            while True:
                page, response = self._get_page(model, path, query | {"offset": len(items)})
                first = first or response
                items.extend(page.results)
                if not page.results or len(items) >= page.count:
                    return items, first

    def _get_page(
        self, model: type[BaseModel], path: str, query: dict[str, Any]
    ) -> tuple[Any, requests.Response]:
        """GET ``path`` with a query; messages show the path without it."""
        try:
            response = self.send("GET", f"{path}?{urlencode(query, doseq=True)}")
        except TransportError as error:
            raise TransportError("GET", path, error.reason, maybe_sent=error.maybe_sent) from None
        return self.parse(model, response, "GET", path), response

    def send_repeatable(
        self, method: str, path: str, body: dict[str, Any] | None
    ) -> requests.Response:
        """Send a request that may safely be sent again, retrying 429, 5xx and lost answers
        as urllib3 does for GET. Returns the first answer that is not retried."""
        retries = self.retries()
        while True:
            response: requests.Response | None = None
            try:
                response = self.send(method, path, body)
            except TransportError as error:
                if not error.maybe_sent:
                    raise
                cause = error.reason
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                cause = f"HTTP {response.status_code}"
            self.spend(retries, method, path, cause, response)

    def spend(
        self,
        retries: Retries,
        method: str,
        path: str,
        cause: str,
        response: requests.Response | None,
        *,
        hint: str | None = None,
        note: str = "",
    ) -> None:
        """Count one failed try against the budget, log it (with ``note``), and wait as the
        policy says (Retry-After honoured); when the budget or the deadline runs out, raise
        the failure, with ``hint`` (e.g. that an earlier try may have created the rule)."""
        if retries.spent:
            if response is not None:
                self.expect(response, method, path, hint=hint)
            raise TransportError(
                method, path, joined(f"{cause}; no retries left (gcore:maxRetries)", hint)
            )
        retries.count(method, path, response)
        log.warning(
            "gcore: %s %s got %s%s; retrying (retry %d of %d)",
            method,
            path,
            cause,
            note,
            retries.tries,
            self._settings.max_retries,
        )
        try:
            retries.wait(response)
        except DeadlineExceeded as stop:
            raise TransportError(method, path, joined(f"gave up: {stop}", hint)) from None


def _text(value: object) -> str | None:
    return str(value) if isinstance(value, (str, int)) and value != "" else None
