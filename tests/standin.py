"""A stand-in for what sits between a client and Gcore: a proxy in front of the emulator
that passes requests through, except those a test scripts to get a hostile answer instead
(an HTML 404, an empty 404, a redirect, a 429 with a broken ``Retry-After``, a slow 503).

It is not Gcore, so it is not part of the emulator: it plays the proxies, load balancers
and wrong base URLs that the provider must never take for Gcore speaking. It can also stop
listening for a while (connections refused, the port kept) and pass answers on late.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

HTML_404 = b"<html><head><title>404 Not Found</title></head><body>nginx</body></html>"


@dataclass
class Answer:
    """A scripted answer to requests matching ``method`` and the ``path`` regex."""

    method: str | None
    path: re.Pattern[str]
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int | None = None
    used: int = 0


@dataclass(frozen=True)
class Seen:
    """One request as the stand-in saw it."""

    at: float
    method: str
    path: str
    scripted: bool


class StandIn:
    """A pass-through proxy to ``upstream`` (the emulator's base URL) with scripted answers."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._answers: list[Answer] = []
        self._lock = threading.Lock()
        self.seen: list[Seen] = []
        self._refusals: list[tuple[str | None, re.Pattern[str], float]] = []
        self._delays: list[tuple[str | None, re.Pattern[str], float]] = []
        self._timers: list[threading.Timer] = []
        self._holders: list[socket.socket] = []
        self.listening_again: list[float] = []
        """When (``time.monotonic()``) the stand-in listened again after each refusal."""
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                standin._serve(self)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = self._serving()

    def _serving(self) -> threading.Thread:
        # a short poll, so that refuse_after stops listening without a noticeable wait
        return threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(
        self,
        method: str | None,
        path: str,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        delay: float = 0.0,
        times: int | None = None,
    ) -> None:
        """Answer requests whose path matches the regex ``path`` with this, ``times`` times
        (None: always) instead of passing them to Gcore."""
        with self._lock:
            self._answers.append(
                Answer(method, re.compile(path), status, body, dict(headers or {}), delay, times)
            )

    def refuse_after(self, method: str | None, path: str, seconds: float) -> None:
        """After passing on the first request matching ``method`` and the regex ``path``,
        stop listening for ``seconds`` before answering it (with ``Connection: close``): new
        connections are refused meanwhile, the port stays this stand-in's."""
        with self._lock:
            self._refusals.append((method, re.compile(path), seconds))

    def answer_late(self, method: str | None, path: str, seconds: float) -> None:
        """Pass matching requests on at once, but hold Gcore's answer ``seconds``."""
        with self._lock:
            self._delays.append((method, re.compile(path), seconds))

    def html_404(self, method: str | None, path: str = ".*") -> None:
        self.answer(method, path, 404, HTML_404, {"Content-Type": "text/html"})

    def requests(self, method: str | None = None) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if method is None or s.method == method]

    def __enter__(self) -> StandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            timers = list(self._timers)
        for timer in timers:
            timer.cancel()
            timer.join()
        self._server.shutdown()
        self._server.server_close()
        for holder in self._holders:  # a port still held, not listening yet
            holder.close()

    def _matching(
        self, rules: list[tuple[str | None, re.Pattern[str], float]], method: str, path: str,
        *, once: bool = False,
    ) -> float | None:  # fmt: skip
        with self._lock:
            for index, (wanted, pattern, seconds) in enumerate(rules):
                if wanted in (None, method) and pattern.search(path):
                    if once:
                        del rules[index]
                    return seconds
        return None

    def _stop_listening(self, seconds: float) -> None:
        """Close the listening socket but keep the port bound (so connects are refused),
        and listen on it again after ``seconds``."""
        self._server.shutdown()
        port = self._server.server_address[1]
        self._server.socket.close()
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", port))

        def listen_again() -> None:
            holder.listen(16)
            self._server.socket = holder
            self._thread = self._serving()
            self._thread.start()
            with self._lock:
                self.listening_again.append(time.monotonic())

        timer = threading.Timer(seconds, listen_again)
        timer.daemon = True
        with self._lock:
            self._timers.append(timer)
            self._holders.append(holder)
        timer.start()

    def _scripted(self, method: str, path: str) -> Answer | None:
        with self._lock:
            for answer in self._answers:
                if answer.method not in (None, method) or not answer.path.search(path):
                    continue
                if answer.times is not None and answer.used >= answer.times:
                    continue
                answer.used += 1
                return answer
        return None

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        answer = self._scripted(handler.command, handler.path)
        with self._lock:
            self.seen.append(Seen(time.monotonic(), handler.command, handler.path, bool(answer)))
        if answer is not None:
            time.sleep(answer.delay)
            self._reply(handler, answer.status, answer.body, answer.headers)
            return
        upstream = http.client.HTTPConnection(*self._upstream, timeout=30)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() != "host"}
            upstream.request(handler.command, handler.path, body=body or None, headers=headers)
            reply = upstream.getresponse()
            data = reply.read()
            late = self._matching(self._delays, handler.command, handler.path)
            if late:
                time.sleep(late)
            refuse = self._matching(self._refusals, handler.command, handler.path, once=True)
            if refuse is not None:
                self._stop_listening(refuse)
                handler.close_connection = True
            passed = {
                k: v
                for k, v in reply.getheaders()
                if k.lower() not in ("content-length", "connection", "transfer-encoding")
            }
            if handler.close_connection:
                passed["Connection"] = "close"
            self._reply(handler, reply.status, data, passed)
        except OSError:
            handler.close_connection = True  # upstream dropped: drop too
        finally:
            upstream.close()

    @staticmethod
    def _reply(
        handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]
    ) -> None:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if body:
            handler.wfile.write(body)


def standin_for(base_url: str) -> Iterator[StandIn]:
    with StandIn(base_url) as proxy:
        yield proxy
