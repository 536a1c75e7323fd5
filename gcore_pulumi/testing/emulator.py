"""A local, in-memory emulator of the Gcore Cloud API for security group rules.

The provider under test talks HTTP to this server exactly as it would to
``https://api.gcore.com``, so tests exercise the real client code: authentication, JSON
encoding, status handling, keep-alive connection reuse, retries. The emulator follows the
published API and the Neutron backend's rules (see :mod:`gcore_pulumi.testing.neutron`), not
any client's expectations; behaviour a client must not depend on (such as PUT returning a new
rule id) is reproduced on purpose.

The endpoints are the table in :mod:`gcore_pulumi.testing.routes` (v1 rules and groups,
v2 groups and rules with tasks, tasks); what each does is :mod:`gcore_pulumi.testing.service`.
This module is the HTTP side: authentication, faults, the request log, and the
:class:`GcoreEmulator` facade with its out-of-band controls.

The server is stdlib only: ``ThreadingHTTPServer`` speaking HTTP/1.1 with exact
``Content-Length`` so that clients keep connections alive, daemon handler threads, and one
lock around all state.
"""

from __future__ import annotations

import contextlib
import copy
import hmac
import json
import math
import re
import selectors
import socket
import socketserver
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from gcore_pulumi.testing.errors import ApiError
from gcore_pulumi.testing.faults import Fault, FaultInjector
from gcore_pulumi.testing.routes import Router
from gcore_pulumi.testing.service import CloudState, DuplicateMode, check_duplicate_mode

__all__ = ["ApiError", "GcoreEmulator", "RequestRecord"]

_REDACTED = "***"
_MAX_BODY = 1 << 20
#: The first byte of a TLS record carrying a handshake (a ClientHello opens with one).
_TLS_HANDSHAKE = 0x16
#: The first byte of a TLS record's version (3.x for SSL 3.0 and every TLS version).
_TLS_MAJOR = 0x03


def _looks_like_tls(first: bytes) -> bool:
    """True when a connection's first bytes are a TLS handshake record, not HTTP: 0x16 then
    0x03 (0x16 alone is enough when only one byte has come; no HTTP request starts so)."""
    return first[:1] == bytes([_TLS_HANDSHAKE]) and first[1:2] in (b"", bytes([_TLS_MAJOR]))


def _http_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _stderr_line(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _check_delay(seconds: float) -> float:
    """A task delay: a finite number of seconds >= 0 (ValueError otherwise)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ValueError(f"a task delay must be a number of seconds, got {seconds!r}")
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"a task delay must be finite and >= 0, got {seconds!r}")
    return float(seconds)


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


class _BodyThunk:
    """Parses the request body lazily, so auth and routing errors come first."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def __call__(self) -> Any:
        if not self.raw.strip():
            return {}
        try:
            return json.loads(self.raw.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError(
                400,
                "ValidationError",
                f"Request body is not valid JSON: {exc}",
                {"_schema": ["Invalid JSON."]},
            ) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_json_for_log(raw: bytes) -> Any:
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
        return value.replace(secret, _REDACTED)
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
    return re.sub("".join(parts), _REDACTED, path)


def _redact_authorization(value: str) -> str:
    scheme, _, token = value.strip().partition(" ")
    if not token:
        return _REDACTED
    return f"APIKey {_REDACTED}" if scheme.lower() == "apikey" else f"{scheme} {_REDACTED}"


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that counts connections and can close idle keep-alive ones."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: GcoreEmulator, ipv6: bool) -> None:
        if ipv6:
            self.address_family = socket.AF_INET6
        self.emulator = emulator
        self.connections_accepted = 0
        self._open: set[socket.socket] = set()
        self._conn_threads: list[threading.Thread] = []
        self._conn_lock = threading.Lock()
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._wake_reader, self._wake_writer = socket.socketpair()
        try:
            super().__init__(address, _Handler)
        except BaseException:
            self._wake_reader.close()
            self._wake_writer.close()
            raise

    def serve(self) -> None:
        """Accept connections until :meth:`stop_serving`.

        Unlike ``serve_forever`` (which polls for shutdown every half second or so), this
        waits on the listening socket and a wake-up socket, so stopping is immediate.
        """
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_reader, selectors.EVENT_READ)
            while not self._stopping.is_set():
                ready = selector.select()
                if self._stopping.is_set():
                    break
                if any(key.fileobj is self.socket for key, _ in ready):
                    self.handle_request()
        self._stopped.set()

    def stop_serving(self) -> None:
        """Make :meth:`serve` return and wait until it has."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"x")
        self._stopped.wait(5.0)

    def server_close(self) -> None:
        super().server_close()
        self._wake_reader.close()
        self._wake_writer.close()

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup of the host, which can stall."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"gcore-emulator-conn-{self.connections_accepted + 1}",
            daemon=True,
        )
        with self._conn_lock:
            self.connections_accepted += 1
            self._open.add(request)
            self._conn_threads = [t for t in self._conn_threads if t.is_alive()]
            self._conn_threads.append(thread)
        thread.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that went away mid-answer (a timed-out client is normal here)."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self, timeout: float = 2.0) -> None:
        """Wake handler threads parked on idle keep-alive sockets and wait for them."""
        with self._conn_lock:
            sockets = list(self._open)
            threads = list(self._conn_threads)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class _DropConnection(Exception):
    """Signals that the handler must close the socket without answering."""


class _Handler(BaseHTTPRequestHandler):
    """Turns one HTTP request into a state operation, applying auth and faults."""

    protocol_version = "HTTP/1.1"
    server_version = "gcore-emulator"
    disable_nagle_algorithm = True
    # An idle keep-alive connection is closed after this many seconds.
    timeout = 120

    @property
    def emulator(self) -> GcoreEmulator:
        return cast(_Server, self.server).emulator

    def version_string(self) -> str:
        """The ``Server`` header: name the emulator, not the Python version."""
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log; the emulator keeps its own log."""

    def handle_one_request(self) -> None:
        """Read and answer one request, unless the client opened TLS (https://) here.

        A TLS client cannot read an HTTP answer and its ClientHello is no request line, so
        the connection is closed with a notice naming the fix instead of a garbled 400.
        """
        try:
            first = self.rfile.peek(2)[:2]  # type: ignore[attr-defined]
        except TimeoutError:
            self.close_connection = True
            return
        if _looks_like_tls(first):
            self.close_connection = True
            self.emulator._notice(
                "a client tried https:// on the emulator, which speaks plain http: use "
                f"{_http_url(self.emulator.host, cast(_Server, self.server).server_port)} as "
                "gcore:baseUrl"
            )
            return
        super().handle_one_request()

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > _MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            return b""
        length = int(length_text)
        if length < 0 or length > _MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(length)

    def _authorized(self) -> bool:
        value = self.headers.get("Authorization")
        if value is None:
            return False
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "apikey" or not token:
            return False
        expected = self.emulator.api_key
        return hmac.compare_digest(token.encode("utf-8"), expected.encode("utf-8"))

    def _handle(self) -> None:
        try:
            self._handle_request()
        except (ConnectionError, TimeoutError):
            raise
        except Exception as exc:  # a bug in the emulator: answer like a server would
            request_id = uuid.uuid4().hex
            err = ApiError(500, "InternalServerError", f"Emulator error: {exc!r}")
            self.close_connection = True
            headers = {"Authorization": _REDACTED} if "Authorization" in self.headers else {}
            self._finish(self.command, self.path, headers, None, None, request_id, 500, err)

    def _handle_request(self) -> None:
        emulator = self.emulator
        if emulator.latency:  # the distance to Gcore: every answer comes this much later
            time.sleep(emulator.latency)
        method = self.command.upper()
        path = self.path
        request_id = uuid.uuid4().hex
        fault: Fault | None = None
        headers = {
            name: (_redact_authorization(v) if name.lower() == "authorization" else v)
            for name, v in self.headers.items()
        }
        # Auth is decided first; the body is still consumed so the connection stays usable.
        authorized = self._authorized()
        unauthorized = ApiError(401, "Unauthorized", "Token is invalid or expired")
        try:
            raw = self._read_body()
        except ValueError:
            self.close_connection = True
            err = unauthorized
            if authorized:
                message = "Malformed request body framing."
                err = ApiError(400, "ValidationError", message, {"_schema": [message]})
            self._finish(method, path, headers, None, None, request_id, err.status, err)
            return
        log_body = _parse_json_for_log(raw)

        if not authorized:
            self._finish(method, path, headers, log_body, None, request_id, 401, unauthorized)
            return

        fault = emulator.faults.decide(method, path)
        if fault is not None:
            if fault.kind == "drop":
                self._finish(method, path, headers, log_body, fault, request_id, None, None)
                return
            if fault.kind in ("429", "502", "503"):
                status = int(fault.kind)
                extra: dict[str, str] = {}
                if fault.kind == "429" and fault.retry_after is not None:
                    extra["Retry-After"] = fault.retry_after
                phrase = HTTPStatus(status).phrase
                err = ApiError(status, phrase.replace(" ", ""), phrase, headers=extra)
                self._finish(method, path, headers, log_body, fault, request_id, status, err)
                return
            foreign = _foreign_answer(fault, path)
            if foreign is not None:
                status, content_type, data, extra = foreign
                self._finish(
                    method,
                    path,
                    headers,
                    log_body,
                    fault,
                    request_id,
                    status,
                    None,
                    raw=(content_type, data),
                    extra=extra,
                )
                return
            if fault.kind == "slow":
                time.sleep(fault.delay)

        payload: Any = None
        error: ApiError | None = None
        try:
            status, payload = emulator._router.dispatch(method, path, _BodyThunk(raw), request_id)
        except ApiError as exc:
            status, error = exc.status, exc

        if fault is not None and fault.kind == "commit_then_drop":
            self._finish(method, path, headers, log_body, fault, request_id, None, None)
            return
        if fault is not None and fault.kind == "commit_then_502":
            err = ApiError(502, "BadGateway", "Bad Gateway")
            self._finish(method, path, headers, log_body, fault, request_id, 502, err)
            return
        if fault is not None and fault.kind == "commit_then_html_200":
            page = ("text/html", _html_page(200))
            self._finish(method, path, headers, log_body, fault, request_id, 200, None, raw=page)
            return
        if fault is not None and fault.kind == "commit_then_truncate":
            self.close_connection = True  # the rest of the body never comes
        self._finish(method, path, headers, log_body, fault, request_id, status, error, payload)

    def _finish(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        log_body: Any,
        fault: Fault | None,
        request_id: str,
        status: int | None,
        error: ApiError | None,
        payload: Any = None,
        raw: tuple[str | None, bytes] | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        """Log the request, then answer it (or drop the connection when status is None).

        ``raw`` is ``(content type, body)`` for an answer that is not JSON (a proxy's page).
        The record is appended before the answer is written so that a test reading the log
        right after receiving the answer always finds it.
        """
        self.emulator._record(
            RequestRecord(
                method=method,
                path=path,
                status=status,
                headers=headers,
                body=log_body,
                fault=None if fault is None else fault.kind,
                request_id=request_id,
            )
        )
        if status is None:
            self.close_connection = True
            return
        more: dict[str, str] = dict(extra or {})
        if error is not None:
            payload = error.body(request_id)
            more.update(error.headers)
        content_type: str | None = "application/json"
        if raw is not None:
            content_type, data = raw
        else:
            data = b"" if status == 204 or payload is None else json.dumps(payload).encode()
        promised = len(data)
        if fault is not None and fault.kind == "commit_then_truncate" and status != 204:
            # cut off on the way: promise the whole body, send half of it, then close
            promised, data = len(data) + 64, data[: len(data) // 2]
        lines = [
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
        ]
        if status != 204:
            if content_type is not None:
                lines.append(f"Content-Type: {content_type}")
            lines.append(f"Content-Length: {promised}")
        if raw is None:
            lines.append(f"X-Request-ID: {request_id}")
        lines.extend(f"{name}: {value}" for name, value in more.items())
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        # One write for head and body: with two small writes, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every keep-alive request.
        self.wfile.write(head + data)


def _html_page(status: int, server: str = "nginx") -> bytes:
    title = f"{status} {HTTPStatus(status).phrase}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>{server}</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


def _foreign_answer(
    fault: Fault, path: str
) -> tuple[int, str | None, bytes, dict[str, str]] | None:
    """(status, content type, body, headers) of a fault that is not Gcore speaking."""
    html = "text/html"
    if fault.kind == "html_404":
        return 404, html, _html_page(404), {}
    if fault.kind == "empty_404":
        return 404, None, b"", {}
    if fault.kind == "html_502":
        return 502, html, _html_page(502), {}
    if fault.kind == "redirect":
        status = fault.redirect_status
        return status, html, _html_page(status), {"Location": fault.location + path}
    return None


class GcoreEmulator:
    """An in-process Gcore Cloud API (security groups, rules, tasks) on a loopback port.

    Use it as a context manager or call :meth:`start` / :meth:`stop`. Point the client at
    :attr:`base_url` with :attr:`api_key`. Out-of-band methods (:meth:`create_group`,
    :meth:`add_rule`, :meth:`remove_rule`, :meth:`delete_group`, :meth:`update_group`,
    :meth:`add_read_only_tag`, :meth:`mark_in_use`) simulate someone changing things behind
    the client's back; :attr:`faults` injects failures; :attr:`task_delay`,
    :attr:`task_delays`, :meth:`fail_tasks` and :meth:`finish_tasks` steer asynchronous
    tasks; :attr:`duplicate_mode` picks how a duplicate v2 rule is refused; :attr:`requests`
    shows what the client sent.

    ``on_notice`` receives one line when a client misuses the emulator itself (today: a TLS
    handshake, from an https:// base URL, on this plain http server); by default the line
    goes to stderr.
    """

    def __init__(
        self,
        api_key: str = "test-api-key",
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        *,
        task_delay: float = 0.05,
        task_delays: Mapping[str, float] | None = None,
        duplicate_mode: DuplicateMode = "409",
        on_notice: Callable[[str], None] | None = None,
        latency: float = 0.0,
    ) -> None:
        self.api_key = api_key
        self.latency = _check_delay(latency)
        """Seconds added to every request before it is handled (a realistic distance to
        Gcore for benchmarks, e.g. 0.03); 0 by default."""
        self._on_notice = on_notice or _stderr_line
        self.host = host
        self.port = port
        self.faults = FaultInjector(seed)
        self._state = CloudState(
            seed,
            task_delay=_check_delay(task_delay),
            task_delays={k: _check_delay(v) for k, v in (task_delays or {}).items()},
            duplicate_mode=check_duplicate_mode(duplicate_mode),
        )
        self._log: list[RequestRecord] = []
        self._log_lock = threading.RLock()  # reentrant: a listener may read the log
        self._listeners: list[Callable[[RequestRecord], None]] = []
        self._router = Router(self._state)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()

    def _notice(self, text: str) -> None:
        """Tell the person running the emulator about a client's mistake (one line)."""
        self._on_notice(f"gcore emulator: {text}")

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> GcoreEmulator:
        """Bind and serve in a daemon thread. Idempotent; returns self for chaining."""
        with self._lifecycle:
            if self._server is not None:
                return self
            server = _Server((self.host, self.port), self, ipv6=":" in self.host)
            thread = threading.Thread(target=server.serve, name="gcore-emulator", daemon=True)
            thread.start()
            self._server, self._thread = server, thread
            return self

    def stop(self) -> None:
        """Stop serving, close every connection and the listening socket. Idempotent."""
        with self._lifecycle:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.stop_serving()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(2.0)

    def __enter__(self) -> GcoreEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server (raises if not started)."""
        server = self._server
        if server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return _http_url(self.host, int(server.server_address[1]))

    def stack_config(self, project_id: int = 1, region_id: int = 1, **extra: str) -> dict[str, str]:
        """Stack config that points the provider at this emulator (for Configure, or for
        ``pulumi config set``); ``extra`` adds or overrides keys such as ``gcore:timeout``."""
        config = {
            "gcore:apiKey": self.api_key,
            "gcore:baseUrl": self.base_url,
            "gcore:projectId": str(project_id),
            "gcore:regionId": str(region_id),
        }
        config.update(extra)
        return config

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted so far: lets tests check keep-alive reuse."""
        server = self._server
        return 0 if server is None else server.connections_accepted

    # -- settings -------------------------------------------------------------------------
    @property
    def task_delay(self) -> float:
        """Seconds a task takes from creation to FINISHED (or ERROR), for tasks created from
        now on; half of it is spent in NEW, half in RUNNING. Default 0.05."""
        return self._state.tasks.delay

    @task_delay.setter
    def task_delay(self, seconds: float) -> None:
        with self._state.lock:
            self._state.tasks.delay = _check_delay(seconds)

    @property
    def task_delays(self) -> dict[str, float]:
        """Per task type overrides of :attr:`task_delay` (a live dict: set or delete keys such
        as ``"create_security_group"``)."""
        return self._state.tasks.delays

    @property
    def duplicate_mode(self) -> DuplicateMode:
        """How a duplicate v2 rule create is refused: ``"409"`` at once (like v1), or
        ``"task_error"``: the POST gets a task that ends in ERROR with the duplicate message
        and ``created_resources`` null."""
        return self._state.duplicate_mode

    @duplicate_mode.setter
    def duplicate_mode(self, mode: DuplicateMode) -> None:
        with self._state.lock:
            self._state.duplicate_mode = check_duplicate_mode(mode)

    # -- out-of-band state changes --------------------------------------------------------
    def create_group(
        self,
        project_id: int = 1,
        region_id: int = 1,
        name: str = "default",
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Create a security group with no rules at once; return its id (lowercase uuid4).

        ``description`` None is stored (and answered) as ""; ``tags`` are user tags.
        """
        with self._state.lock:
            group = self._state.add_group(
                project_id, region_id, name, description, dict(tags or {})
            )
            return group.id

    def delete_group(self, group_id: str) -> None:
        """Delete a group and its rules behind the client's back (KeyError if unknown), even
        while marked in use. Rules elsewhere naming it as remote group go too."""
        with self._state.lock:
            self._state.settle()
            self._state.drop_group(group_id)

    def update_group(
        self,
        group_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Change a group out of band, as from the console (for drift tests); None leaves a
        field alone, ``tags`` replaces every user tag. Returns the group as GET shows it."""
        with self._state.lock:
            self._state.settle()
            group = self._state.known_group(group_id)
            if name is not None:
                group.name = name
            if description is not None:
                group.description = description
            if tags is not None:
                group.tags = dict(tags)
            group.touch()
            return self._state.view(group)

    def rename_group(self, group_id: str, name: str) -> None:
        """Rename a group out of band (KeyError if unknown)."""
        self.update_group(group_id, name=name)

    def add_read_only_tag(self, group_id: str, key: str, value: str) -> None:
        """Give the group a read-only tag (as Gcore's own tags are): listed in ``tags_v2``
        with ``read_only`` true, kept by every PATCH, refused (400) if a PATCH names it."""
        with self._state.lock:
            self._state.settle()
            group = self._state.known_group(group_id)
            group.read_only_tags[key] = value
            group.tags.pop(key, None)
            group.touch()

    def mark_in_use(self, group_id: str, in_use: bool = True) -> None:
        """Mark a group as attached to instances (its DELETE answers 409) or not."""
        with self._state.lock:
            self._state.known_group(group_id).in_use = bool(in_use)

    def add_rule(self, group_id: str, **fields: Any) -> dict[str, Any]:
        """Create a rule out of band with the same checks as the v1 POST; return the rule.

        Raises ``ValueError`` (with the API's message) where the POST answers 400 or 409, and
        ``KeyError`` where it answers 404 (unknown group or remote group).
        """
        with self._state.lock:
            self._state.settle()
            group = self._state.known_group(group_id)
            try:
                return self._state.create_rule_v1(
                    group.project_id, group.region_id, group.id, fields
                )
            except ApiError as err:
                if err.status == 404:
                    raise KeyError(err.message) from None
                raise ValueError(err.message) from None

    def remove_rule(self, rule_id: str) -> None:
        """Delete a rule behind the client's back, as if from the console (KeyError if gone)."""
        with self._state.lock:
            self._state.settle()
            self._state.remove_rule(rule_id)

    # -- tasks ------------------------------------------------------------------------------
    def fail_tasks(
        self,
        task_type: str | None = None,
        times: int = 1,
        error: str = "Emulated task failure",
    ) -> None:
        """Make the next ``times`` tasks created (of ``task_type``, e.g.
        ``"create_security_group_rule"``, or of any type) end in ERROR with ``error`` and
        ``created_resources`` null, changing nothing."""
        with self._state.lock:
            self._state.tasks.fail_next(task_type, times, error)

    def finish_tasks(self) -> None:
        """End every pending task now (FINISHED, or ERROR where it would fail)."""
        with self._state.lock:
            self._state.tasks.finish_all()

    def tasks(self, task_type: str | None = None) -> list[dict[str, Any]]:
        """Every task (of ``task_type``) as ``GET /cloud/v1/tasks/{id}`` shows it now, oldest
        first."""
        with self._state.lock:
            self._state.settle()
            return [
                self._state.tasks.view(t)
                for t in self._state.tasks.all()
                if task_type is None or t.task_type == task_type
            ]

    def task(self, task_id: str) -> dict[str, Any]:
        """One task as the GET shows it now (KeyError if unknown)."""
        with self._state.lock:
            self._state.settle()
            try:
                return self._state.get_task(task_id)
            except ApiError:
                raise KeyError(f"task {task_id} does not exist") from None

    # -- inspection -----------------------------------------------------------------------
    def rules(self, group_id: str) -> list[dict[str, Any]]:
        """The group's rules as API objects (copies; KeyError if the group does not exist)."""
        with self._state.lock:
            self._state.settle()
            group = self._state.known_group(group_id)
            return [copy.deepcopy(r) for r in self._state.rules.of_group(group.id)]

    def all_rules(self) -> list[dict[str, Any]]:
        """Every rule in every group (copies)."""
        with self._state.lock:
            self._state.settle()
            return [copy.deepcopy(r) for r in self._state.rules.all()]

    def group(self, group_id: str) -> dict[str, Any]:
        """The group as the GET endpoint returns it (KeyError if it does not exist)."""
        with self._state.lock:
            self._state.settle()
            return self._state.view(self._state.known_group(group_id))

    def groups(self) -> list[dict[str, Any]]:
        """Every group in every project and region, as GET shows them, oldest first."""
        with self._state.lock:
            self._state.settle()
            return [self._state.view(g) for g in self._state.groups.all()]

    @property
    def requests(self) -> list[RequestRecord]:
        """The request log, oldest first (a copy)."""
        with self._log_lock:
            return list(self._log)

    def count(self, method: str | None = None, path_prefix: str | None = None) -> int:
        """How many logged requests match ``method`` (any case) and ``path_prefix``."""
        wanted = None if method is None else method.upper()
        with self._log_lock:
            return sum(
                1
                for r in self._log
                if (wanted is None or r.method == wanted)
                and (path_prefix is None or r.path.startswith(path_prefix))
            )

    def on_request(self, listener: Callable[[RequestRecord], None]) -> None:
        """Call ``listener`` with each request's record (redacted, as :attr:`requests` holds
        it) as it is logged: in log order, from the server's threads, before the answer is
        written, holding the log lock (so it may read the log too). It must not raise."""
        with self._log_lock:
            self._listeners.append(listener)

    def clear_log(self) -> None:
        """Forget the logged requests."""
        with self._log_lock:
            self._log.clear()

    def dump_log(self) -> str:
        """The request log as JSON text, for failure reports. Never contains the API key."""
        with self._log_lock:
            records = [asdict(r) for r in self._log]
        text = json.dumps(_redact(records, self.api_key), indent=2, sort_keys=True, default=str)
        return text.replace(self.api_key, _REDACTED) if self.api_key else text

    def _record(self, record: RequestRecord) -> None:
        record = RequestRecord(
            method=record.method,
            path=_redact_url(record.path, self.api_key),
            status=record.status,
            headers=_redact(record.headers, self.api_key),
            body=_redact(record.body, self.api_key),
            fault=record.fault,
            request_id=record.request_id,
        )
        with self._log_lock:
            self._log.append(record)
            for listener in self._listeners:
                listener(record)
