"""The emulator's HTTP server: connections, requests, authentication, faults, the log.

Stdlib only: ``ThreadingHTTPServer`` speaking HTTP/1.1 with exact ``Content-Length`` so that
clients keep connections alive, daemon handler threads, and a stop that is immediate. Each
request goes through the same steps: the distance to Gcore (``latency``), the API key, the
body's framing, a fault on the wire (:mod:`.answers`), Gcore's answer from the routes
(:class:`~gcore_pulumi.testing.routes.Router`), the log entry, then the answer.

What the server serves is a :class:`Site`: the emulator, seen from the wire.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import selectors
import socket
import socketserver
import sys
import threading
import time
import uuid
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, cast

from gcore_pulumi.testing.answers import Answer, after_gcore, before_gcore
from gcore_pulumi.testing.errors import ApiError
from gcore_pulumi.testing.faults import Fault, FaultInjector
from gcore_pulumi.testing.request_log import (
    REDACTED,
    RequestRecord,
    parse_json_for_log,
    redact_authorization,
)
from gcore_pulumi.testing.routes import Router

__all__ = ["EmulatorServer", "Serving", "Site", "http_url"]

_MAX_BODY = 1 << 20
#: The first byte of a TLS record carrying a handshake (a ClientHello opens with one).
_TLS_HANDSHAKE = 0x16
#: The first byte of a TLS record's version (3.x for SSL 3.0 and every TLS version).
_TLS_MAJOR = 0x03


class Site(Protocol):
    """What the server needs of the emulator; read at every request, so changes apply at once."""

    api_key: str
    host: str
    latency: float
    faults: FaultInjector
    _router: Router

    def _record(self, record: RequestRecord) -> None: ...

    def _notice(self, text: str) -> None: ...


def _looks_like_tls(first: bytes) -> bool:
    """True when a connection's first bytes are a TLS handshake record, not HTTP: 0x16 then
    0x03 (0x16 alone is enough when only one byte has come; no HTTP request starts so)."""
    return first[:1] == bytes([_TLS_HANDSHAKE]) and first[1:2] in (b"", bytes([_TLS_MAJOR]))


def http_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


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


class EmulatorServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that counts connections and can close idle keep-alive ones."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], site: Site, ipv6: bool) -> None:
        if ipv6:
            self.address_family = socket.AF_INET6
        self.site = site
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


class Serving:
    """An :class:`EmulatorServer` serving ``site`` in a daemon thread; start and stop are
    idempotent."""

    def __init__(self, site: Site) -> None:
        self._site = site
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self, host: str, port: int) -> None:
        """Bind ``host:port`` (0: any free port) and serve."""
        with self._lock:
            if self._server is not None:
                return
            server = EmulatorServer((host, port), self._site, ipv6=":" in host)
            thread = threading.Thread(target=server.serve, name="gcore-emulator", daemon=True)
            thread.start()
            self._server, self._thread = server, thread

    def stop(self) -> None:
        """Stop serving, close every connection and the listening socket."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.stop_serving()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(2.0)

    @property
    def port(self) -> int | None:
        """The port served on; None when not serving."""
        server = self._server
        return None if server is None else int(server.server_address[1])

    @property
    def connections_accepted(self) -> int:
        server = self._server
        return 0 if server is None else server.connections_accepted


class _Handler(BaseHTTPRequestHandler):
    """Turns one HTTP request into a state operation, applying auth and faults."""

    protocol_version = "HTTP/1.1"
    server_version = "gcore-emulator"
    disable_nagle_algorithm = True
    # An idle keep-alive connection is closed after this many seconds.
    timeout = 120

    @property
    def site(self) -> Site:
        return cast(EmulatorServer, self.server).site

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
            port = cast(EmulatorServer, self.server).server_port
            self.site._notice(
                "a client tried https:// on the emulator, which speaks plain http: use "
                f"{http_url(self.site.host, port)} as gcore:baseUrl"
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
            return self._read_chunks()
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            return b""
        length = int(length_text)
        if length < 0 or length > _MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(length)

    def _read_chunks(self) -> bytes:
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

    def _authorized(self) -> bool:
        value = self.headers.get("Authorization")
        if value is None:
            return False
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "apikey" or not token:
            return False
        expected = self.site.api_key
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
            headers = {"Authorization": REDACTED} if "Authorization" in self.headers else {}
            record = RequestRecord(self.command, self.path, 500, headers, None, None, request_id)
            self._finish(record, Answer.of_error(err))

    def _handle_request(self) -> None:
        site = self.site
        if site.latency:  # the distance to Gcore: every answer comes this much later
            time.sleep(site.latency)
        headers = {
            name: (redact_authorization(v) if name.lower() == "authorization" else v)
            for name, v in self.headers.items()
        }
        record = RequestRecord(
            self.command.upper(), self.path, None, headers, None, None, uuid.uuid4().hex
        )
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
            self._finish(record, Answer.of_error(err))
            return
        record = replace(record, body=parse_json_for_log(raw))
        if not authorized:
            self._finish(record, Answer.of_error(unauthorized))
            return
        fault = self.site.faults.decide(record.method, record.path)
        if fault is not None:
            record = replace(record, fault=fault.kind)
        self._finish(record, self._answer(record, raw, fault))

    def _answer(self, record: RequestRecord, raw: bytes, fault: Fault | None) -> Answer:
        """Gcore's answer to an authorized request, as a fault on the wire leaves it."""
        if fault is not None:
            instead = before_gcore(fault, record.path)
            if instead is not None:
                return instead
        try:
            status, payload = self.site._router.dispatch(
                record.method, record.path, _BodyThunk(raw), str(record.request_id)
            )
            answer = Answer(status, payload=payload)
        except ApiError as exc:
            answer = Answer.of_error(exc)
        return answer if fault is None else after_gcore(fault, answer)

    def _finish(self, record: RequestRecord, answer: Answer) -> None:
        """Log the request, then answer it (or drop the connection when the answer is DROP).

        The record is appended before the answer is written so that a test reading the log
        right after receiving the answer always finds it.
        """
        self.site._record(replace(record, status=answer.status))
        if answer.status is None or answer.cut_off:
            self.close_connection = True  # for a cut-off answer, the rest never comes
        if answer.status is None:
            return
        head = [f"Server: {self.version_string()}", f"Date: {self.date_time_string()}"]
        self.wfile.write(answer.encode(str(record.request_id), head, self.close_connection))
