"""What the emulator's HTTP server writes back, and what each fault on the wire makes of it.

An :class:`Answer` is one HTTP answer (or none: the connection is dropped). Gcore's own
answers are JSON with an ``X-Request-ID``; the faults of :mod:`.faults` replace them before
Gcore sees the request (:func:`before_gcore`: a 429/502/503, a proxy's HTML page, a
redirect, a dropped connection, a delay) or spoil them after Gcore has committed the change
(:func:`after_gcore`: a dropped connection, a 502, an HTML 200, a cut-off body).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from typing import Any

from gcore_pulumi.testing.errors import ApiError
from gcore_pulumi.testing.faults import Fault

__all__ = ["DROP", "Answer", "after_gcore", "before_gcore", "html_page"]


@dataclass(frozen=True)
class Answer:
    """One answer: ``status`` None drops the connection instead.

    ``error`` is Gcore's error (its body and headers are written); ``payload`` the JSON of a
    success; ``raw`` a ``(content type, body)`` that is not Gcore speaking (a proxy's page,
    written without ``X-Request-ID``); ``cut_off`` promises the whole body, sends half of it
    and closes the connection.
    """

    status: int | None
    error: ApiError | None = None
    payload: Any = None
    raw: tuple[str | None, bytes] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    cut_off: bool = False

    @classmethod
    def of_error(cls, error: ApiError) -> Answer:
        return cls(error.status, error=error)

    def encode(self, request_id: str, head: list[str], close: bool) -> bytes:
        """The answer's bytes after the status line and ``head`` (``Server``, ``Date``):
        head and body in one write (with two small writes, Nagle's algorithm and the client's
        delayed ACK add ~40 ms to every keep-alive request)."""
        status = self.status
        assert status is not None
        more: dict[str, str] = dict(self.headers)
        payload = self.payload
        if self.error is not None:
            payload = self.error.body(request_id)
            more.update(self.error.headers)
        content_type: str | None = "application/json"
        if self.raw is not None:
            content_type, data = self.raw
        else:
            data = b"" if status == 204 or payload is None else json.dumps(payload).encode()
        promised = len(data)
        if self.cut_off and status != 204:
            # cut off on the way: promise the whole body, send half of it, then close
            promised, data = len(data) + 64, data[: len(data) // 2]
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", *head]
        if status != 204:
            if content_type is not None:
                lines.append(f"Content-Type: {content_type}")
            lines.append(f"Content-Length: {promised}")
        if self.raw is None:
            lines.append(f"X-Request-ID: {request_id}")
        lines.extend(f"{name}: {value}" for name, value in more.items())
        if close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


DROP = Answer(None)
"""No answer: the connection is closed."""


def html_page(status: int, server: str = "nginx") -> bytes:
    """The page a proxy in front of Gcore answers with."""
    title = f"{status} {HTTPStatus(status).phrase}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>{server}</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


def _foreign_answer(fault: Fault, path: str) -> Answer | None:
    """The answer of a fault that is not Gcore speaking."""
    html = "text/html"
    if fault.kind == "html_404":
        return Answer(404, raw=(html, html_page(404)))
    if fault.kind == "empty_404":
        return Answer(404, raw=(None, b""))
    if fault.kind == "html_502":
        return Answer(502, raw=(html, html_page(502)))
    if fault.kind == "redirect":
        status = fault.redirect_status
        return Answer(
            status, raw=(html, html_page(status)), headers={"Location": fault.location + path}
        )
    return None


def before_gcore(fault: Fault, path: str) -> Answer | None:
    """The answer ``fault`` gives instead of Gcore, or None when Gcore is to answer (after
    the fault's delay, for ``slow``)."""
    if fault.kind == "drop":
        return DROP
    if fault.kind in ("429", "502", "503"):
        status = int(fault.kind)
        extra: dict[str, str] = {}
        if fault.kind == "429" and fault.retry_after is not None:
            extra["Retry-After"] = fault.retry_after
        phrase = HTTPStatus(status).phrase
        return Answer.of_error(ApiError(status, phrase.replace(" ", ""), phrase, headers=extra))
    foreign = _foreign_answer(fault, path)
    if foreign is not None:
        return foreign
    if fault.kind == "slow":
        time.sleep(fault.delay)
    return None


def after_gcore(fault: Fault, answer: Answer) -> Answer:
    """What ``fault`` makes of Gcore's ``answer`` once the change is committed."""
    if fault.kind == "commit_then_drop":
        return DROP
    if fault.kind == "commit_then_502":
        return Answer.of_error(ApiError(502, "BadGateway", "Bad Gateway"))
    if fault.kind == "commit_then_html_200":
        return Answer(200, raw=("text/html", html_page(200)))
    if fault.kind == "commit_then_truncate":
        return replace(answer, cut_off=True)
    return answer
