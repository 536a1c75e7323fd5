"""Connection failures against real loopback sockets: each is one line naming the host (and
port) and what failed — a name that does not resolve is not "connection refused" — never
the key, and "never sent" only where nothing can have reached a server."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gcore_pulumi.client import GcoreClient
from gcore_pulumi.errors import TransportError
from gcore_pulumi.models import GroupSpec, RuleSpec
from gcore_pulumi.settings import Settings
from gcore_pulumi.testing import GcoreEmulator

KEY = "conn-test-key-5e7d1a"
GROUP = "024a29e9-b4b7-4c91-9a46-505be123d9f8"
RULE = RuleSpec.from_props(
    {"group_id": GROUP, "direction": "ingress", "project_id": 1, "region_id": 1}
)


def client_for(base_url: str, **settings: Any) -> GcoreClient:
    values: dict[str, Any] = {"max_retries": 1, "retry_backoff": 0.01, "connect_timeout": 0.5}
    values.update(settings)
    return GcoreClient(Settings(api_key=KEY, base_url=base_url, **values))


def failure(client: GcoreClient, call: str = "get") -> TransportError:
    with pytest.raises(TransportError) as caught:
        if call == "get":
            client.get_group(1, 1, GROUP)
        elif call == "rule":
            client.create_rule(RULE)
        else:
            client.create_group(GroupSpec(name="web", project_id=1, region_id=1))
    client.close()
    message = str(caught.value)
    assert KEY not in message and "\n" not in message and "?" not in message.split(" failed")[0]
    return caught.value


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound for the whole test but not listening,
    so no other test (or xdist worker) can start listening on it meanwhile."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


@pytest.fixture
def no_dns_for_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    """``.invalid`` never resolves (RFC 6761); answer so here, without asking any server."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """Accepts connections (the kernel does) and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield int(server.getsockname()[1])


@pytest.fixture
def full_listener() -> Iterator[int]:
    """A listener whose accept queue is full, so a new connection is never established."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(server.getsockname())
        fillers.append(filler)
    time.sleep(0.05)
    yield int(server.getsockname()[1])
    for sock in (*fillers, server):
        sock.close()


@contextlib.contextmanager
def serving(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """A loopback listener whose every accepted connection goes to ``handle`` (in a thread);
    yields its port, and stops and closes it afterwards."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            handle(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        server.close()


@pytest.fixture
def resetting_listener() -> Iterator[int]:
    """Reads the request, then resets the connection (RST) without answering."""

    def reset(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(2)
            conn.recv(65536)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    with serving(reset) as port:
        yield port


def test_a_closed_port_is_connection_refused_naming_host_and_port(closed_port: int) -> None:
    port = closed_port
    error = failure(client_for(f"http://127.0.0.1:{port}"))
    assert f"could not connect to 127.0.0.1:{port} (connection refused)" in str(error)
    assert "gcore:baseUrl" in str(error) and error.maybe_sent is False


@pytest.mark.usefixtures("no_dns_for_invalid")
def test_an_unresolvable_host_is_a_dns_failure_not_a_refused_connection() -> None:
    started = time.monotonic()
    error = failure(client_for("https://api.example.invalid"))
    assert time.monotonic() - started < 5
    assert "could not resolve host api.example.invalid (DNS)" in str(error)
    assert "refused" not in str(error) and error.maybe_sent is False


@pytest.mark.usefixtures("no_dns_for_invalid")
def test_a_rule_create_to_an_unresolvable_host_was_never_sent() -> None:
    error = failure(client_for("https://api.example.invalid"), "rule")
    assert "could not resolve host api.example.invalid" in str(error)
    assert error.maybe_sent is False and "may have created" not in str(error)


def test_a_connection_never_established_is_a_connect_timeout(full_listener: int) -> None:
    error = failure(client_for(f"http://127.0.0.1:{full_listener}", connect_timeout=0.2))
    assert f"could not connect to 127.0.0.1:{full_listener} (timed out)" in str(error)
    assert error.maybe_sent is False


def test_a_server_that_never_answers_is_a_read_timeout(silent_listener: int) -> None:
    error = failure(client_for(f"http://127.0.0.1:{silent_listener}", timeout=0.2))
    assert f"no answer from 127.0.0.1:{silent_listener} before the read timeout" in str(error)
    assert error.maybe_sent is True


def test_a_reset_after_sending_may_have_been_sent(resetting_listener: int) -> None:
    error = failure(client_for(f"http://127.0.0.1:{resetting_listener}"))
    assert f"the connection to 127.0.0.1:{resetting_listener} was dropped" in str(error)
    assert error.maybe_sent is True


def test_a_group_create_reset_after_sending_keeps_its_ambiguity(resetting_listener: int) -> None:
    # the create reads the group list first: that GET meets the reset and fails as "dropped"
    error = failure(client_for(f"http://127.0.0.1:{resetting_listener}"), "group")
    assert f"127.0.0.1:{resetting_listener}" in str(error) and error.maybe_sent is True


def test_https_to_a_plain_http_server_is_a_tls_failure_naming_host_and_port() -> None:
    with GcoreEmulator(api_key=KEY) as api:  # speaks plain http
        port = api.base_url.rsplit(":", 1)[1].rstrip("/")
        error = failure(client_for(f"https://127.0.0.1:{port}"))
    assert f"the TLS connection failed (127.0.0.1:{port})" in str(error)
    assert "a local Gcore emulator speaks plain http: use http:// in gcore:baseUrl" in str(error)
    assert error.maybe_sent is True  # a TLS error while reading looks the same: may be sent


@pytest.fixture
def self_signed_listener(tmp_path: Path) -> Iterator[int]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def handshake(conn: socket.socket) -> None:
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except (OSError, ssl.SSLError):
            pass

    with serving(handshake) as port:
        yield port


def test_an_untrusted_certificate_names_the_host_and_the_ca_setting(
    self_signed_listener: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    error = failure(client_for(f"https://127.0.0.1:{self_signed_listener}"), "rule")
    assert "certificate is not trusted" in str(error)
    assert f"127.0.0.1:{self_signed_listener}" in str(error) and "REQUESTS_CA_BUNDLE" in str(error)
    assert error.maybe_sent is False


# --- a proxy in between (HTTPS_PROXY / HTTP_PROXY) ----------------------------------------


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def use(proxy: str) -> None:
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
            monkeypatch.setenv(name, proxy)

    yield use


@pytest.fixture
def refusing_tunnel_proxy() -> Iterator[int]:
    """A proxy that answers every CONNECT with 403."""

    def refuse(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(2)
            with contextlib.suppress(OSError):
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

    with serving(refuse) as port:
        yield port


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_proxy_that_refuses_the_connection_is_named_not_the_api(
    proxy_env: Any, scheme: str, closed_port: int
) -> None:
    port = closed_port
    proxy_env(f"http://proxyuser:proxysecret@127.0.0.1:{port}")
    error = failure(client_for(f"{scheme}://api.example.com?token=querysecret"))
    message = str(error)
    assert f"proxy 127.0.0.1:{port}" in message, message
    assert "connection refused" in message and "HTTPS_PROXY" in message, message
    assert "dropped" not in message, message
    assert "proxysecret" not in message and "querysecret" not in message
    assert error.maybe_sent is True  # as before: the flag did not change with the wording


def test_a_proxy_that_refuses_the_tunnel_says_so(
    proxy_env: Any, refusing_tunnel_proxy: int
) -> None:
    proxy_env(f"http://127.0.0.1:{refusing_tunnel_proxy}")
    error = failure(client_for("https://api.example.com"))
    message = str(error)
    assert "proxy" in message and "403" in message and "api.example.com:443" in message, message
    assert "dropped" not in message, message
