"""The emulator's request log (and so `--log`) never shows the key: also not when a client
puts it, percent-encoded, into the path or query string."""

from __future__ import annotations

import socket

from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.__main__ import log_line

# Gcore's keys have the form ID$SECRET; `$` travels as %24 in a URL.
KEY = "4242$Ab/c+d e"


def test_a_percent_encoded_key_in_the_url_is_redacted_in_the_log() -> None:
    paths = [
        "/cloud/v1/securitygroups/1/1?apikey=4242%24Ab%2Fc%2Bd%20e",
        "/cloud/v1/securitygroups/1/1?apikey=4242%24Ab/c%2bd+e",
        "/cloud/v1/securitygroups/1/1?apikey=%34%32%34%32%24%41%62%2F%63%2B%64%20%65",
    ]
    with GcoreEmulator(api_key=KEY) as api:
        host, port = api.base_url.removeprefix("http://").rsplit(":", 1)
        for path in paths:
            with socket.create_connection((host, int(port)), timeout=10) as conn:
                conn.sendall(
                    f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
                )
                assert conn.recv(64).startswith(b"HTTP/1.1 401")
        records = api.requests
    lines = [log_line(record) for record in records]
    assert len(lines) == 3
    for line in lines:
        assert line.startswith("GET /cloud/v1/securitygroups/1/1?apikey=*** 401"), line
