"""The emulator's request log: what each request was and what it got, with the API key hidden.

:class:`RequestRecord` is one request as the emulator saw it; :class:`RequestLog` keeps them
in order and tells listeners as each is added. Every record is redacted on the way in (the
``Authorization`` token, and the API key wherever else a client wrote it: the URL, percent
encoded or not, the headers, the body), so a log is safe to print.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

__all__ = ["REDACTED", "RequestLog", "RequestRecord", "redact_authorization"]

REDACTED = "***"


@dataclass(frozen=True)
class RequestRecord:
    """One request as the emulator saw it, for assertions in tests.

    ``headers`` has the ``Authorization`` token replaced by ``***`` (and any other occurrence
    of the API key redacted), so logs are safe to print. ``body`` is the parsed JSON body or
    None. ``status`` is what was answered, or None when the connection was dropped without an
    answer. ``fault`` names the injected fault kind, if any.
    """

    method: str
    path: str
    status: int | None
    headers: dict[str, str]
    body: Any
    fault: str | None
    request_id: str | None = None


def parse_json_for_log(raw: bytes) -> Any:
    """A request body as the log shows it: its JSON, or None when it is empty or not JSON."""
    if not raw:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def _redact(value: Any, secret: str) -> Any:
    """Replace every occurrence of ``secret`` inside strings of a JSON-like value."""
    if not secret:
        return value
    if isinstance(value, str):
        return value.replace(secret, REDACTED)
    if isinstance(value, list):
        return [_redact(v, secret) for v in value]
    if isinstance(value, dict):
        return {_redact(k, secret): _redact(v, secret) for k, v in value.items()}
    return value


def _redact_url(path: str, secret: str) -> str:
    """``path`` with every occurrence of ``secret`` replaced, also where a client wrote it
    percent-encoded (any case; ``+`` for a space), as in a query string."""
    if not secret:
        return path
    parts = []
    for char in secret:
        encoded = "".join(f"%{byte:02x}" for byte in char.encode("utf-8"))
        forms = [re.escape(char), f"(?i:{encoded})"]  # only the hex digits in any case
        if char == " ":
            forms.append(r"\+")
        parts.append("(?:" + "|".join(forms) + ")")
    return re.sub("".join(parts), REDACTED, path)


def redact_authorization(value: str) -> str:
    """An ``Authorization`` header as the log shows it: the scheme, never the token."""
    scheme, _, token = value.strip().partition(" ")
    if not token:
        return REDACTED
    return f"APIKey {REDACTED}" if scheme.lower() == "apikey" else f"{scheme} {REDACTED}"


class RequestLog:
    """The requests, oldest first, each redacted as it is added; thread-safe."""

    def __init__(self) -> None:
        self._records: list[RequestRecord] = []
        self._lock = threading.RLock()  # reentrant: a listener may read the log
        self._listeners: list[Callable[[RequestRecord], None]] = []

    def add(self, record: RequestRecord, secret: str) -> None:
        """Append ``record`` with ``secret`` redacted everywhere, then tell each listener
        (holding the lock, so records reach listeners in log order)."""
        record = replace(
            record,
            path=_redact_url(record.path, secret),
            headers=_redact(record.headers, secret),
            body=_redact(record.body, secret),
        )
        with self._lock:
            self._records.append(record)
            for listener in self._listeners:
                listener(record)

    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def count(self, method: str | None = None, path_prefix: str | None = None) -> int:
        wanted = None if method is None else method.upper()
        with self._lock:
            return sum(
                1
                for r in self._records
                if (wanted is None or r.method == wanted)
                and (path_prefix is None or r.path.startswith(path_prefix))
            )

    def listen(self, listener: Callable[[RequestRecord], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def dump(self, secret: str) -> str:
        """The log as JSON text; ``secret`` appears nowhere in it."""
        with self._lock:
            records = [asdict(r) for r in self._records]
        text = json.dumps(_redact(records, secret), indent=2, sort_keys=True, default=str)
        return text.replace(secret, REDACTED) if secret else text
