"""A local, in-memory emulator of the Gcore Cloud API for security group rules.

The provider under test talks HTTP to this server exactly as it would to
``https://api.gcore.com``, so tests exercise the real client code: authentication, JSON
encoding, status handling, keep-alive connection reuse, retries. The emulator follows the
published API and the Neutron backend's rules (see :mod:`gcore_pulumi.testing.neutron`), not
any client's expectations; behaviour a client must not depend on (such as PUT returning a new
rule id) is reproduced on purpose.

Implemented endpoints (v1 only)::

    POST   /cloud/v1/securitygroups/{project_id}/{region_id}/{group_id}/rules
    GET    /cloud/v1/securitygroups/{project_id}/{region_id}/{group_id}
    GET    /cloud/v1/securitygroups/{project_id}/{region_id}
    DELETE /cloud/v1/securitygrouprules/{project_id}/{region_id}/{rule_id}
    PUT    /cloud/v1/securitygrouprules/{project_id}/{region_id}/{rule_id}

The server is stdlib only: ``ThreadingHTTPServer`` speaking HTTP/1.1 with exact
``Content-Length`` so that clients keep connections alive, daemon handler threads, and one
lock around all state.
"""

from __future__ import annotations

import contextlib
import copy
import hmac
import json
import random
import re
import selectors
import socket
import socketserver
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from gcore_pulumi.testing.faults import Fault, FaultInjector
from gcore_pulumi.testing.neutron import (
    RuleSpec,
    RuleValidationError,
    find_duplicate,
    validate_rule_body,
)

__all__ = ["ApiError", "GcoreEmulator", "RequestRecord"]

_REDACTED = "***"
_MAX_BODY = 1 << 20
_INT_SEGMENT = re.compile(r"[0-9]+")


def _timestamp() -> str:
    """Now, in the API's format: ``2019-06-18T11:56:16+0000`` (offset without a colon)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


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


class ApiError(Exception):
    """An error answer of the API: status plus the Gcore error body fields."""

    def __init__(
        self,
        status: int,
        exception_class: str,
        message: str,
        invalid_fields: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.exception_class = exception_class
        self.message = message
        self.invalid_fields = None if invalid_fields is None else dict(invalid_fields)
        self.headers = dict(headers or {})

    def body(self, request_id: str) -> dict[str, Any]:
        """The JSON error body the API sends."""
        payload: dict[str, Any] = {
            "exception_class": self.exception_class,
            "message": self.message,
            "request_id": request_id,
        }
        if self.invalid_fields is not None:
            payload["invalid_fields"] = self.invalid_fields
        return payload


def _not_found(message: str) -> ApiError:
    return ApiError(404, "NotFoundError", message)


def _validation_error(err: RuleValidationError) -> ApiError:
    return ApiError(400, "ValidationError", err.message, err.invalid_fields)


@dataclass
class _Group:
    id: str
    name: str
    project_id: int
    region_id: int
    created_at: str
    updated_at: str
    description: str | None = None
    revision_number: int = 0
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)

    def touch(self) -> None:
        self.revision_number += 1
        self.updated_at = _timestamp()

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "project_id": self.project_id,
            "region_id": self.region_id,
            "region": f"Emulated Region {self.region_id}",
            "revision_number": self.revision_number,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "tags_v2": [],
            "security_group_rules": [copy.deepcopy(r) for r in self.rules.values()],
        }


class _State:
    """All emulated resources and the request log, behind one re-entrant lock."""

    def __init__(self, seed: int | None) -> None:
        self.lock = threading.RLock()
        self.groups: dict[str, _Group] = {}
        self.log: list[RequestRecord] = []
        self._id_rng = None if seed is None else random.Random(seed)

    # -- helpers (call with the lock held) ------------------------------------------------
    def new_id(self) -> str:
        """A lowercase uuid4; reproducible when the emulator was given a seed."""
        if self._id_rng is None:
            return str(uuid.uuid4())
        return str(uuid.UUID(int=self._id_rng.getrandbits(128), version=4))

    def group(self, project_id: int, region_id: int, group_id: str) -> _Group:
        group = self.groups.get(group_id.lower())
        if group is None or (group.project_id, group.region_id) != (project_id, region_id):
            raise _not_found(f"Security group {group_id} not found.")
        return group

    def find_rule(self, project_id: int, region_id: int, rule_id: str) -> _Group:
        for group in self.groups.values():
            if rule_id.lower() in group.rules and (group.project_id, group.region_id) == (
                project_id,
                region_id,
            ):
                return group
        raise _not_found(f"Security group rule {rule_id} not found.")

    def all_rules(self, project_id: int, region_id: int) -> list[dict[str, Any]]:
        return [
            rule
            for group in self.groups.values()
            if (group.project_id, group.region_id) == (project_id, region_id)
            for rule in group.rules.values()
        ]

    def _insert(self, group: _Group, spec: RuleSpec) -> dict[str, Any]:
        now = _timestamp()
        rule: dict[str, Any] = {
            "id": self.new_id(),
            "security_group_id": group.id,
            "direction": spec["direction"],
            "ethertype": spec["ethertype"],
            "protocol": spec["protocol"],
            "port_range_min": spec["port_range_min"],
            "port_range_max": spec["port_range_max"],
            "remote_ip_prefix": spec["remote_ip_prefix"],
            "remote_group_id": spec["remote_group_id"],
            "description": spec["description"],
            "revision_number": 0,
            "created_at": now,
            "updated_at": now,
        }
        group.rules[rule["id"]] = rule
        group.touch()
        return copy.deepcopy(rule)

    def _check_remote_group(self, project_id: int, region_id: int, spec: RuleSpec) -> None:
        remote = spec["remote_group_id"]
        if remote is not None:
            # Neutron checks that the referenced group exists for the same tenant.
            self.group(project_id, region_id, remote)

    def _check_duplicate(
        self, group: _Group, spec: RuleSpec, ignore_rule_id: str | None = None
    ) -> None:
        existing = [r for r in group.rules.values() if r["id"] != ignore_rule_id]
        duplicate = find_duplicate(group.id, spec, existing)
        if duplicate is not None:
            raise ApiError(
                409,
                "ConflictError",
                f"Security group rule already exists. Rule id is {duplicate}.",
            )

    # -- operations -----------------------------------------------------------------------
    def create_group(self, project_id: int, region_id: int, name: str) -> str:
        with self.lock:
            now = _timestamp()
            group = _Group(
                id=self.new_id(),
                name=name,
                project_id=project_id,
                region_id=region_id,
                created_at=now,
                updated_at=now,
            )
            self.groups[group.id] = group
            return group.id

    def delete_group(self, group_id: str) -> None:
        with self.lock:
            group = self.groups.pop(group_id.lower(), None)
            if group is None:
                raise KeyError(f"security group {group_id} does not exist")
            # Rules elsewhere that name this group as their remote go with it (Neutron's
            # foreign key cascades), which changes those groups' revision too.
            for other in self.groups.values():
                doomed = [i for i, r in other.rules.items() if r["remote_group_id"] == group.id]
                for rule_id in doomed:
                    del other.rules[rule_id]
                    other.touch()

    def create_rule(
        self, project_id: int, region_id: int, group_id: str, body: object
    ) -> dict[str, Any]:
        """POST .../{group_id}/rules: 400, then 404, then 409, else the new rule."""
        try:
            spec, _ = validate_rule_body(body)
        except RuleValidationError as err:
            raise _validation_error(err) from None
        with self.lock:
            self._check_remote_group(project_id, region_id, spec)
            group = self.group(project_id, region_id, group_id)
            self._check_duplicate(group, spec)
            return self._insert(group, spec)

    def delete_rule(self, project_id: int, region_id: int, rule_id: str) -> None:
        with self.lock:
            group = self.find_rule(project_id, region_id, rule_id)
            del group.rules[rule_id.lower()]
            group.touch()

    def replace_rule(
        self, project_id: int, region_id: int, rule_id: str, body: object
    ) -> dict[str, Any]:
        """PUT .../{rule_id}: delete the rule and create one from the body, with a new id.

        All checks run before anything changes, so a refused PUT leaves the old rule alone.
        """
        try:
            spec, target_id = validate_rule_body(body, require_security_group_id=True)
        except RuleValidationError as err:
            raise _validation_error(err) from None
        assert target_id is not None
        with self.lock:
            old_group = self.find_rule(project_id, region_id, rule_id)
            target = self.group(project_id, region_id, target_id)
            self._check_remote_group(project_id, region_id, spec)
            self._check_duplicate(target, spec, ignore_rule_id=rule_id.lower())
            del old_group.rules[rule_id.lower()]
            old_group.touch()
            return self._insert(target, spec)

    def get_group(self, project_id: int, region_id: int, group_id: str) -> dict[str, Any]:
        with self.lock:
            return self.group(project_id, region_id, group_id).view()

    def list_groups(self, project_id: int, region_id: int) -> dict[str, Any]:
        with self.lock:
            results = [
                g.view()
                for g in self.groups.values()
                if (g.project_id, g.region_id) == (project_id, region_id)
            ]
        return {"count": len(results), "results": results}


_Response = tuple[int, Any]


class _Router:
    """Maps (method, path) to a state operation, like the real service's URL router.

    ``project_id`` and ``region_id`` must be decimal integers; anything else does not match
    a route and gets 404. A known path with an unsupported method gets 405.
    """

    def __init__(self, state: _State) -> None:
        self.state = state

    def dispatch(self, method: str, path: str, body_thunk: _BodyThunk) -> _Response:
        path = path.split("?", 1)[0]  # never echo the query string (it may hold secrets)
        segments = path.split("/")
        if len(segments) < 4 or segments[0] != "" or segments[1:3] != ["cloud", "v1"]:
            raise _not_found(f"The requested resource {path} was not found.")
        resource, rest = segments[3], segments[4:]
        if len(rest) < 2 or not all(_INT_SEGMENT.fullmatch(s) for s in rest[:2]):
            raise _not_found(f"The requested resource {path} was not found.")
        project_id, region_id = int(rest[0]), int(rest[1])
        tail = rest[2:]
        state = self.state
        if resource == "securitygroups":
            if not tail:
                self._allow(method, "GET")
                return 200, state.list_groups(project_id, region_id)
            if len(tail) == 1 and tail[0]:
                self._allow(method, "GET")
                return 200, state.get_group(project_id, region_id, tail[0])
            if len(tail) == 2 and tail[0] and tail[1] == "rules":
                self._allow(method, "POST")
                return 200, state.create_rule(project_id, region_id, tail[0], body_thunk())
        elif resource == "securitygrouprules" and len(tail) == 1 and tail[0]:
            self._allow(method, "DELETE", "PUT")
            if method == "DELETE":
                state.delete_rule(project_id, region_id, tail[0])
                return 204, None
            return 200, state.replace_rule(project_id, region_id, tail[0], body_thunk())
        raise _not_found(f"The requested resource {path} was not found.")

    @staticmethod
    def _allow(method: str, *allowed: str) -> None:
        if method not in allowed:
            raise ApiError(
                405,
                "MethodNotAllowed",
                f"Method {method} is not allowed for this resource.",
                headers={"Allow": ", ".join(allowed)},
            )


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
            if fault.kind == "slow":
                time.sleep(fault.delay)

        payload: Any = None
        error: ApiError | None = None
        try:
            status, payload = emulator._router.dispatch(method, path, _BodyThunk(raw))
        except ApiError as exc:
            status, error = exc.status, exc

        if fault is not None and fault.kind == "commit_then_drop":
            self._finish(method, path, headers, log_body, fault, request_id, None, None)
            return
        if fault is not None and fault.kind == "commit_then_502":
            err = ApiError(502, "BadGateway", "Bad Gateway")
            self._finish(method, path, headers, log_body, fault, request_id, 502, err)
            return
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
    ) -> None:
        """Log the request, then answer it (or drop the connection when status is None).

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
        extra: dict[str, str] = {}
        if error is not None:
            payload = error.body(request_id)
            extra.update(error.headers)
        data = b"" if status == 204 or payload is None else json.dumps(payload).encode("utf-8")
        lines = [
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
        ]
        if status != 204:
            lines.append("Content-Type: application/json")
            lines.append(f"Content-Length: {len(data)}")
        lines.append(f"X-Request-ID: {request_id}")
        lines.extend(f"{name}: {value}" for name, value in extra.items())
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        # One write for head and body: with two small writes, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every keep-alive request.
        self.wfile.write(head + data)


class GcoreEmulator:
    """An in-process Gcore Cloud API (security group rules) on a loopback port.

    Use it as a context manager or call :meth:`start` / :meth:`stop`. Point the client at
    :attr:`base_url` with :attr:`api_key`. Groups are created out of band with
    :meth:`create_group` (the real API would need a separate call the provider does not make);
    :meth:`add_rule`, :meth:`remove_rule` and :meth:`delete_group` simulate someone changing
    things behind the provider's back. :attr:`faults` injects failures; :attr:`requests` shows
    what the client sent.
    """

    def __init__(
        self,
        api_key: str = "test-api-key",
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
    ) -> None:
        self.api_key = api_key
        self.host = host
        self.port = port
        self.faults = FaultInjector(seed)
        self._state = _State(seed)
        self._router = _Router(self._state)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()

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
        port = server.server_address[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port}"

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

    # -- out-of-band state changes --------------------------------------------------------
    def create_group(self, project_id: int = 1, region_id: int = 1, name: str = "default") -> str:
        """Create an empty security group; return its id (lowercase uuid4)."""
        return self._state.create_group(project_id, region_id, name)

    def delete_group(self, group_id: str) -> None:
        """Delete a group and its rules behind the client's back (KeyError if unknown)."""
        self._state.delete_group(group_id)

    def add_rule(self, group_id: str, **fields: Any) -> dict[str, Any]:
        """Create a rule out of band with the same checks as the POST; return the rule.

        Raises ``ValueError`` (with the API's message) where the POST answers 400 or 409, and
        ``KeyError`` where it answers 404 (unknown group or remote group).
        """
        with self._state.lock:
            group = self._state.groups.get(group_id.lower())
            if group is None:
                raise KeyError(f"security group {group_id} does not exist")
            try:
                return self._state.create_rule(group.project_id, group.region_id, group.id, fields)
            except ApiError as err:
                if err.status == 404:
                    raise KeyError(err.message) from None
                raise ValueError(err.message) from None

    def remove_rule(self, rule_id: str) -> None:
        """Delete a rule behind the client's back, as if from the console (KeyError if gone)."""
        with self._state.lock:
            for group in self._state.groups.values():
                if rule_id.lower() in group.rules:
                    del group.rules[rule_id.lower()]
                    group.touch()
                    return
        raise KeyError(f"security group rule {rule_id} does not exist")

    # -- inspection -----------------------------------------------------------------------
    def rules(self, group_id: str) -> list[dict[str, Any]]:
        """The group's rules as API objects (copies; KeyError if the group does not exist)."""
        with self._state.lock:
            group = self._state.groups.get(group_id.lower())
            if group is None:
                raise KeyError(f"security group {group_id} does not exist")
            return [copy.deepcopy(r) for r in group.rules.values()]

    def all_rules(self) -> list[dict[str, Any]]:
        """Every rule in every group (copies)."""
        with self._state.lock:
            return [copy.deepcopy(r) for g in self._state.groups.values() for r in g.rules.values()]

    def group(self, group_id: str) -> dict[str, Any]:
        """The group as the GET endpoint returns it (KeyError if it does not exist)."""
        with self._state.lock:
            group = self._state.groups.get(group_id.lower())
            if group is None:
                raise KeyError(f"security group {group_id} does not exist")
            return group.view()

    @property
    def requests(self) -> list[RequestRecord]:
        """The request log, oldest first (a copy)."""
        with self._state.lock:
            return list(self._state.log)

    def count(self, method: str | None = None, path_prefix: str | None = None) -> int:
        """How many logged requests match ``method`` (any case) and ``path_prefix``."""
        wanted = None if method is None else method.upper()
        with self._state.lock:
            return sum(
                1
                for r in self._state.log
                if (wanted is None or r.method == wanted)
                and (path_prefix is None or r.path.startswith(path_prefix))
            )

    def clear_log(self) -> None:
        """Forget the logged requests."""
        with self._state.lock:
            self._state.log.clear()

    def dump_log(self) -> str:
        """The request log as JSON text, for failure reports. Never contains the API key."""
        with self._state.lock:
            records = [asdict(r) for r in self._state.log]
        text = json.dumps(_redact(records, self.api_key), indent=2, sort_keys=True, default=str)
        return text.replace(self.api_key, _REDACTED) if self.api_key else text

    def _record(self, record: RequestRecord) -> None:
        record = RequestRecord(
            method=record.method,
            path=_redact(record.path, self.api_key),
            status=record.status,
            headers=_redact(record.headers, self.api_key),
            body=_redact(record.body, self.api_key),
            fault=record.fault,
            request_id=record.request_id,
        )
        with self._state.lock:
            self._state.log.append(record)
