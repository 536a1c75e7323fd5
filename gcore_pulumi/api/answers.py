"""What an answer says: success, Gcore's own error body, Gcore's clock; and the errors and
hints for answers that are not what was asked for. Only 2xx is success, and only a 404
with Gcore's error body says that something is gone."""

from __future__ import annotations

import contextlib
import email.utils
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from ..errors import BrokenAnswerError, CutOffAnswerError, UnexpectedAnswerError

if TYPE_CHECKING:
    import requests

NOT_GCORE_HINT: Final = (
    "This answer did not come from Gcore's API (no Gcore error body): is gcore:baseUrl "
    "the Gcore API, with no proxy in between that answers for it?"
)


def succeeded(response: requests.Response) -> bool:
    """Only a 2xx is success (requests' ``ok`` also counts redirects)."""
    return 200 <= response.status_code < 300


def gcore_404(response: requests.Response) -> bool:
    """A 404 that Gcore itself answered (its error body): only that says "not there"."""
    return response.status_code == 404 and gcore_error_body(response) is not None


def gcore_error_body(response: requests.Response) -> dict[str, Any] | None:
    """Gcore's JSON error body (it always names an ``exception_class``), else None."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("exception_class"), str):
        return body
    return None


def gcore_time(response: requests.Response) -> datetime:
    """Gcore's clock from an answer's Date header (ours when it has none)."""
    stamp = response.headers.get("Date")
    if stamp:
        with contextlib.suppress(TypeError, ValueError):
            parsed = email.utils.parsedate_to_datetime(stamp)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc)


def reason(response: requests.Response) -> str:
    return f"HTTP {response.status_code} {response.reason or ''}".strip()


def redirect_reason(response: requests.Response) -> str:
    location = response.headers.get("Location", "")
    target = urlsplit(location)
    where = f" to {target.scheme}://{target.netloc}{target.path}" if target.netloc else ""
    return f"a redirect ({response.status_code}){where}, which is never followed"


class AmbiguousAnswer(Exception):
    """A write was accepted (2xx) but what it did cannot be read from the answer (its body
    broken, its task lost): settle it as after a lost answer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def broken_2xx(response: requests.Response, error: UnexpectedAnswerError) -> str:
    """Why an accepted write's outcome is unknown: its answer broke on the way."""
    return f"HTTP {response.status_code} with a broken body ({error.message})"


def broken_reason(error: BrokenAnswerError | CutOffAnswerError) -> str:
    """What broke in a 2xx answer (its body cut off, or not Gcore's JSON), for a log line."""
    return error.reason if isinstance(error, CutOffAnswerError) else error.message


def unexpected(
    response: requests.Response,
    method: str,
    path: str,
    what: str,
    hint: str | None = None,
    cls: type[UnexpectedAnswerError] = UnexpectedAnswerError,
) -> UnexpectedAnswerError:
    """An answer that is not what was asked for; ``BrokenAnswerError`` for a broken 2xx."""
    return cls(
        response.status_code,
        method,
        path,
        f"unexpected answer ({what})",
        request_id=response.headers.get("X-Request-ID"),
        hint=joined(NOT_GCORE_HINT, hint),
    )


def joined(text: str, hint: str | None) -> str:
    return f"{text}. {hint}" if hint else text


def asked_where(project_id: int, region_id: int, also: str = "") -> str:
    """The hint of a Gcore 404 on a create: where the create was sent, and what sets that."""
    return (
        f"Asked in project {project_id}, region {region_id}: check gcore:projectId / "
        f"gcore:regionId or the resource's project_id/region_id{also}; and that gcore:baseUrl "
        "is Gcore's API root without a path (Gcore answers the same 404 for a URL it does not "
        "serve)"
    )
