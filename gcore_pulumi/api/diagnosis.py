"""Why a request got no answer, in one line that names the host (never the key or a query)
and what to check, and whether anything may have been sent (a create that may have been
sent is never simply posted again)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from typing import Any, Final
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)

from ..errors import TransportError
from ..settings import is_loopback


def endpoint(base_url: str) -> tuple[str, str]:
    """The API's host, and ``host:port``, for messages (no credentials, path or query)."""
    parts = urlsplit(base_url)
    host = parts.hostname or "?"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 443 if parts.scheme == "https" else 80
    return host, f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


_NEVER_SENT: Final = (
    requests.exceptions.InvalidHeader,
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
    requests.exceptions.URLRequired,
    requests.exceptions.InvalidJSONError,
)


def _transport_error(
    method: str, path: str, error: requests.RequestException, host: str, where: str
) -> TransportError:
    """A one-line reason for a requests failure, naming ``host`` / ``where`` (host:port, never
    the key or a query) and what to check, and remembering whether anything was sent."""
    if isinstance(error, requests.ConnectTimeout):
        reason = (
            f"could not connect to {where} (timed out): check the network, any firewall or "
            "proxy in between, and gcore:baseUrl"
        )
        sent = False
    elif isinstance(error, requests.ReadTimeout):
        reason = f"no answer from {where} before the read timeout (gcore:timeout)"
        sent = True
    elif isinstance(error, requests.ConnectionError) and _refused(error):
        reason = _connect_failure(error, host, where)
        sent = False
    elif isinstance(error, requests.exceptions.SSLError) and _certificate_refused(error):
        reason = "TLS handshake failed: the server's certificate is not trusted"
        sent = False
    elif isinstance(error, requests.exceptions.SSLError):
        # urllib3 reports a TLS failure while reading the answer as the same SSLError as
        # one during the handshake: the request may have been sent.
        reason = "the TLS connection failed"
        sent = True
    elif isinstance(error, requests.exceptions.ProxyError):
        # Flagged as before (a ConnectionError: maybe sent); only the wording names the proxy.
        reason = _proxy_failure(error, where)
        sent = True
    elif isinstance(error, requests.ConnectionError) and _read_timed_out(error):
        reason = f"no answer from {where} before the read timeout (gcore:timeout)"
        sent = True
    elif isinstance(error, requests.ConnectionError):
        reason = (
            f"the connection to {where} was dropped before an answer came (closed or reset "
            "by the server or something in between)"
        )
        sent = True
    elif isinstance(error, _NEVER_SENT):
        reason = f"the request could not be built ({type(error).__name__}); nothing was sent"
        sent = False
    else:
        reason = type(error).__name__
        sent = True
    if isinstance(error, requests.exceptions.SSLError):  # the TLS reasons above name no host
        check = "; check gcore:baseUrl, or REQUESTS_CA_BUNDLE for a private CA" if not sent else ""
        reason = f"{reason} ({where}{check})"
        if sent and is_loopback(host):  # not for a refused certificate: that server speaks TLS
            reason += "; a local Gcore emulator speaks plain http: use http:// in gcore:baseUrl"
    return TransportError(method, path, reason, maybe_sent=sent)


def retry_cause(error: BaseException | None) -> str:
    """What went wrong with one try, in a few words for its retry log line (the wording of
    the final error's reason above, without host or advice): never a urllib3 class name."""
    causes = list(_causes(error))
    if any(isinstance(c, (NameResolutionError, socket.gaierror)) for c in causes):
        return "DNS lookup failed"
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return "connection refused"
    if any(isinstance(c, ProxyError) for c in causes):
        return "the proxy failed (HTTPS_PROXY / HTTP_PROXY)"
    if any(isinstance(c, ConnectTimeoutError) for c in causes):
        return "could not connect (timed out)"
    if any(isinstance(c, ReadTimeoutError) for c in causes):
        return "no answer before the read timeout (gcore:timeout)"
    if any(isinstance(c, SSLError) for c in causes):
        return "the TLS connection failed"
    if any(isinstance(c, (ProtocolError, ConnectionError)) for c in causes):
        return "the connection was dropped before an answer came"
    why = next((c.strerror for c in causes if isinstance(c, OSError) and c.strerror), None)
    return f"could not connect ({why})" if why else "no usable answer"


def _connect_failure(error: requests.ConnectionError, host: str, where: str) -> str:
    """Why no connection was made: the name did not resolve, nothing listens, or the
    network has no way there."""
    causes = list(_causes(error))
    if any(isinstance(c, (NameResolutionError, socket.gaierror)) for c in causes):
        return (
            f"could not resolve host {host} (DNS): check the host name in gcore:baseUrl and "
            "this machine's DNS"
        )
    if any(isinstance(c, ConnectionRefusedError) for c in causes) and is_loopback(host):
        port = where.rsplit(":", 1)[-1]
        return (
            f"could not connect to {where} (connection refused): nothing listens there. Start "
            f"the Gcore emulator on that port (python -m gcore_pulumi.testing --port {port}), "
            "or check the port in gcore:baseUrl"
        )
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return (
            f"could not connect to {where} (connection refused): nothing listens there; check "
            "gcore:baseUrl (host and port)"
        )
    why = next((c.strerror for c in causes if isinstance(c, OSError) and c.strerror), None)
    return (
        f"could not connect to {where} ({why or 'host unreachable'}): check the network and "
        "gcore:baseUrl"
    )


def _proxy_failure(error: requests.exceptions.ProxyError, where: str) -> str:
    """Why the proxy (HTTPS_PROXY / HTTP_PROXY) did not take the request to ``where``: it
    refused the connection, its name did not resolve, or it refused the tunnel. The proxy is
    named by host:port only (its URL may hold a user and password)."""
    causes = list(_causes(error))
    proxy = "proxy"
    for cause in causes:
        conn = getattr(cause, "conn", None) if isinstance(cause, NewConnectionError) else None
        host, port = getattr(conn, "host", None), getattr(conn, "port", None)
        if isinstance(host, str) and host:
            shown = f"[{host}]" if ":" in host else host
            proxy = f"proxy {shown}:{port}" if port else f"proxy {shown}"
            break
    tunnel = next((str(c) for c in causes if str(c).startswith("Tunnel connection failed")), None)
    if any(isinstance(c, (NameResolutionError, socket.gaierror)) for c in causes):
        why = "its name did not resolve"
    elif any(isinstance(c, ConnectionRefusedError) for c in causes):
        why = "connection refused"
    elif tunnel is not None:
        why = f"it refused to open a tunnel: {tunnel[:120]}"
    else:
        why = next(
            (c.strerror for c in causes if isinstance(c, OSError) and c.strerror),
            "no usable answer",
        )
    return (
        f"could not reach {where} through the {proxy} ({why}): check HTTPS_PROXY / HTTP_PROXY, "
        "or NO_PROXY for hosts to reach directly"
    )


def _read_timed_out(error: requests.ConnectionError) -> bool:
    """A GET's retries ended on read timeouts (requests reports that as a ConnectionError)."""
    return any(isinstance(cause, ReadTimeoutError) for cause in _causes(error))


def _causes(error: BaseException | None) -> Iterator[BaseException]:
    """``error`` and every exception it wraps (urllib3 nests them in ``reason`` and args)."""
    seen: set[int] = set()
    todo: list[Any] = [error]
    while todo:
        current = todo.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
        todo.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))


def _certificate_refused(error: requests.exceptions.SSLError) -> bool:
    """True when certificate verification failed (during the handshake: nothing sent)."""
    return any(isinstance(cause, ssl.SSLCertVerificationError) for cause in _causes(error))


def _refused(error: requests.ConnectionError) -> bool:
    cause: Any = error.args[0] if error.args else None
    reason = getattr(cause, "reason", cause)
    return isinstance(reason, NewConnectionError)
