"""The Gcore API emulator answers like the reference says the real API does.

Everything goes over real HTTP on loopback with ``requests``, the way the provider talks to
the service, so these tests also pin the wire format (status codes, error bodies, headers,
keep-alive).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from gcore_pulumi.testing import GcoreEmulator, RequestRecord
from gcore_pulumi.testing.neutron import (
    RuleValidationError,
    check_neutron_rules,
    check_schema,
    duplicate_key,
    normalize_ip_prefix,
)

pytest_plugins = ["gcore_pulumi.testing.pytest_plugin"]

KEY = "test-api-key"
AUTH = {"Authorization": f"APIKey {KEY}"}
REPO_ROOT = Path(__file__).resolve().parents[2]
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0000$"
RULE_KEYS = {
    "id",
    "security_group_id",
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "remote_group_id",
    "description",
    "revision_number",
    "created_at",
    "updated_at",
}


class Api:
    """A thin requests.Session wrapper: base URL, auth header, project 1 / region 1."""

    def __init__(self, emulator: GcoreEmulator, project_id: int = 1, region_id: int = 1) -> None:
        self.emulator = emulator
        self.session = requests.Session()
        self.session.headers.update(AUTH)
        self.prefix = f"{emulator.base_url}/cloud/v1"
        self.pr = f"{project_id}/{region_id}"

    def close(self) -> None:
        self.session.close()

    def url(self, path: str) -> str:
        return f"{self.prefix}{path}"

    def create(self, group_id: str, body: Any, **kw: Any) -> requests.Response:
        return self.session.post(
            self.url(f"/securitygroups/{self.pr}/{group_id}/rules"), json=body, **kw
        )

    def group(self, group_id: str, **kw: Any) -> requests.Response:
        return self.session.get(self.url(f"/securitygroups/{self.pr}/{group_id}"), **kw)

    def groups(self, **kw: Any) -> requests.Response:
        return self.session.get(self.url(f"/securitygroups/{self.pr}"), **kw)

    def delete(self, rule_id: str, **kw: Any) -> requests.Response:
        return self.session.delete(self.url(f"/securitygrouprules/{self.pr}/{rule_id}"), **kw)

    def put(self, rule_id: str, body: Any, **kw: Any) -> requests.Response:
        return self.session.put(
            self.url(f"/securitygrouprules/{self.pr}/{rule_id}"), json=body, **kw
        )


@pytest.fixture
def api(gcore_emulator: GcoreEmulator) -> Iterator[Api]:
    client = Api(gcore_emulator)
    try:
        yield client
    finally:
        client.close()


def assert_error(response: requests.Response, status: int, exception_class: str) -> dict[str, Any]:
    """Check the Gcore error shape and return the body."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["exception_class"] == exception_class
    assert isinstance(body["message"], str) and body["message"]
    assert len(body["request_id"]) == 32
    int(body["request_id"], 16)
    assert response.headers["X-Request-ID"] == body["request_id"]
    if status == 400:
        assert isinstance(body["invalid_fields"], dict) and body["invalid_fields"]
        for messages in body["invalid_fields"].values():
            assert isinstance(messages, list) and all(isinstance(m, str) for m in messages)
    return body


TCP_22 = {
    "direction": "ingress",
    "protocol": "tcp",
    "port_range_min": 22,
    "port_range_max": 22,
    "remote_ip_prefix": "10.0.0.0/8",
    "description": "ssh",
}


# --------------------------------------------------------------------------------------
# endpoints
# --------------------------------------------------------------------------------------


def test_create_returns_full_rule_object(api: Api, gcore_group: str) -> None:
    response = api.create(gcore_group, TCP_22)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    rule = response.json()
    assert set(rule) == RULE_KEYS
    assert uuid.UUID(rule["id"]).version == 4 and rule["id"] == rule["id"].lower()
    assert rule["security_group_id"] == gcore_group
    assert rule["direction"] == "ingress"
    assert rule["ethertype"] == "IPv4"
    assert rule["protocol"] == "tcp"
    assert (rule["port_range_min"], rule["port_range_max"]) == (22, 22)
    assert rule["remote_ip_prefix"] == "10.0.0.0/8"
    assert rule["remote_group_id"] is None
    assert rule["description"] == "ssh"
    assert rule["revision_number"] == 0
    assert re.match(TIMESTAMP, rule["created_at"])
    assert re.match(TIMESTAMP, rule["updated_at"])


def test_create_applies_neutron_defaults(api: Api, gcore_group: str) -> None:
    rule = api.create(gcore_group, {"direction": "egress"}).json()
    assert rule["ethertype"] == "IPv4"
    assert rule["protocol"] is None
    assert rule["description"] == ""
    assert rule["port_range_min"] is None and rule["port_range_max"] is None
    assert rule["remote_ip_prefix"] is None and rule["remote_group_id"] is None


def test_get_group_shape_and_revision(api: Api, gcore_emulator: GcoreEmulator) -> None:
    group_id = gcore_emulator.create_group(name="web")
    group = api.group(group_id).json()
    assert set(group) == {
        "id",
        "name",
        "description",
        "project_id",
        "region_id",
        "region",
        "revision_number",
        "created_at",
        "updated_at",
        "tags_v2",
        "security_group_rules",
    }
    assert (group["id"], group["name"], group["project_id"], group["region_id"]) == (
        group_id,
        "web",
        1,
        1,
    )
    assert group["tags_v2"] == [] and group["security_group_rules"] == []
    start = group["revision_number"]

    rule = api.create(group_id, TCP_22).json()
    group = api.group(group_id).json()
    assert group["security_group_rules"] == [rule]
    assert group["revision_number"] == start + 1

    assert api.delete(rule["id"]).status_code == 204
    group = api.group(group_id).json()
    assert group["security_group_rules"] == []
    assert group["revision_number"] == start + 2


def test_list_groups_filters_by_project_and_region(api: Api, gcore_emulator: GcoreEmulator) -> None:
    a = gcore_emulator.create_group(name="a")
    b = gcore_emulator.create_group(name="b")
    gcore_emulator.create_group(project_id=2, name="other-project")
    gcore_emulator.create_group(region_id=7, name="other-region")
    api.create(a, TCP_22)
    listing = api.groups().json()
    assert listing["count"] == 2
    assert {g["id"] for g in listing["results"]} == {a, b}
    by_id = {g["id"]: g for g in listing["results"]}
    assert len(by_id[a]["security_group_rules"]) == 1


def test_delete_rule_is_204_then_404(api: Api, gcore_group: str) -> None:
    rule = api.create(gcore_group, TCP_22).json()
    first = api.delete(rule["id"])
    assert first.status_code == 204
    assert first.content == b""
    assert_error(api.delete(rule["id"]), 404, "NotFoundError")


def test_put_replaces_rule_with_new_id(
    api: Api, gcore_group: str, gcore_emulator: GcoreEmulator
) -> None:
    old = api.create(gcore_group, TCP_22).json()
    revision = api.group(gcore_group).json()["revision_number"]
    body = {
        **TCP_22,
        "security_group_id": gcore_group,
        "port_range_min": 2222,
        "port_range_max": 2222,
    }
    response = api.put(old["id"], body)
    assert response.status_code == 200
    new = response.json()
    assert set(new) == RULE_KEYS
    assert new["id"] != old["id"]
    assert new["port_range_min"] == 2222
    assert new["revision_number"] == 0
    assert [r["id"] for r in gcore_emulator.rules(gcore_group)] == [new["id"]]
    # Delete + create: the group changed twice.
    assert api.group(gcore_group).json()["revision_number"] == revision + 2
    assert_error(api.delete(old["id"]), 404, "NotFoundError")


def test_put_with_identical_body_still_gets_new_id(api: Api, gcore_group: str) -> None:
    old = api.create(gcore_group, TCP_22).json()
    new = api.put(old["id"], {**TCP_22, "security_group_id": gcore_group})
    assert new.status_code == 200
    assert new.json()["id"] != old["id"]


def test_put_requires_direction(api: Api, gcore_group: str, gcore_emulator: GcoreEmulator) -> None:
    old = api.create(gcore_group, TCP_22).json()
    body = {**TCP_22, "security_group_id": gcore_group}
    del body["direction"]
    error = assert_error(api.put(old["id"], body), 400, "ValidationError")
    assert "direction" in error["invalid_fields"]
    assert [r["id"] for r in gcore_emulator.rules(gcore_group)] == [old["id"]]


def test_put_without_group_replaces_in_the_rules_group(
    api: Api, gcore_group: str, gcore_emulator: GcoreEmulator
) -> None:
    """Gcore's current OpenAPI (and its SDK 0.59) send the PUT without security_group_id."""
    old = api.create(gcore_group, TCP_22).json()
    response = api.put(old["id"], {**TCP_22, "port_range_min": 23, "port_range_max": 23})
    assert response.status_code == 200, response.text
    new = response.json()
    assert new["security_group_id"] == gcore_group and new["port_range_min"] == 23
    assert [r["id"] for r in gcore_emulator.rules(gcore_group)] == [new["id"]]


@pytest.mark.parametrize("named", ["another group", "not a uuid"])
def test_put_naming_a_group_that_is_not_the_rules_is_refused(
    api: Api, gcore_group: str, gcore_emulator: GcoreEmulator, named: str
) -> None:
    old = api.create(gcore_group, TCP_22).json()
    other = gcore_emulator.create_group(name="other")
    group = other if named == "another group" else "web"
    error = assert_error(
        api.put(old["id"], {**TCP_22, "security_group_id": group}), 400, "ValidationError"
    )
    assert "security_group_id" in error["invalid_fields"]
    assert [r["id"] for r in gcore_emulator.rules(gcore_group)] == [old["id"]]
    assert gcore_emulator.rules(other) == []


def test_put_refused_leaves_old_rule(
    api: Api, gcore_group: str, gcore_emulator: GcoreEmulator
) -> None:
    old = api.create(gcore_group, TCP_22).json()
    other = api.create(gcore_group, {**TCP_22, "port_range_min": 80, "port_range_max": 80}).json()
    # Invalid body: 400, nothing changes.
    bad = {
        "security_group_id": gcore_group,
        "direction": "ingress",
        "protocol": "tcp",
        "port_range_min": 0,
    }
    assert_error(api.put(old["id"], bad), 400, "ValidationError")
    # Would duplicate another rule: 409, nothing changes.
    dup = {**TCP_22, "security_group_id": gcore_group, "port_range_min": 80, "port_range_max": 80}
    body = assert_error(api.put(old["id"], dup), 409, "ConflictError")
    assert other["id"] in body["message"]
    assert {r["id"] for r in gcore_emulator.rules(gcore_group)} == {old["id"], other["id"]}


def test_put_unknown_rule_or_group_is_404(
    api: Api, gcore_group: str, gcore_emulator: GcoreEmulator
) -> None:
    body = {**TCP_22, "security_group_id": gcore_group}
    assert_error(api.put(str(uuid.uuid4()), body), 404, "NotFoundError")
    old = api.create(gcore_group, TCP_22).json()
    elsewhere = gcore_emulator.create_group(project_id=2)
    assert_error(
        api.put(old["id"], {**TCP_22, "security_group_id": elsewhere}), 404, "NotFoundError"
    )
    assert [r["id"] for r in gcore_emulator.rules(gcore_group)] == [old["id"]]


# --------------------------------------------------------------------------------------
# 404 / routing
# --------------------------------------------------------------------------------------


def test_group_404s(api: Api, gcore_emulator: GcoreEmulator, gcore_group: str) -> None:
    assert_error(api.group(str(uuid.uuid4())), 404, "NotFoundError")
    assert_error(api.create(str(uuid.uuid4()), TCP_22), 404, "NotFoundError")
    # The same group seen from another project or region does not exist.
    for pr in ("2/1", "1/2"):
        url = f"{api.prefix}/securitygroups/{pr}/{gcore_group}"
        assert_error(api.session.get(url), 404, "NotFoundError")
        assert_error(api.session.post(f"{url}/rules", json=TCP_22), 404, "NotFoundError")
    gcore_emulator.delete_group(gcore_group)
    assert_error(api.group(gcore_group), 404, "NotFoundError")
    assert_error(api.create(gcore_group, TCP_22), 404, "NotFoundError")


def test_rule_in_other_project_is_404(api: Api, gcore_group: str) -> None:
    rule = api.create(gcore_group, TCP_22).json()
    url = f"{api.prefix}/securitygrouprules/2/1/{rule['id']}"
    assert_error(api.session.delete(url), 404, "NotFoundError")
    assert api.delete(rule["id"]).status_code == 204


@pytest.mark.parametrize(
    "path",
    [
        "/cloud/v1/nothing",
        "/cloud/v1/securitygroups/abc/1",
        "/cloud/v1/securitygroups/1/x/{group}",
        "/cloud/v1/securitygroups/-1/1/{group}",
        "/cloud/v1/securitygroups/1/1/{group}/",
        "/cloud/v1/securitygroups/1/1/{group}/rules/extra",
        "/cloud/v2/security_groups/1/1/{group}/nothing",
        "/cloud/v3/security_groups/1/1/{group}/rules",
        "/cloud/v1/tasks/",
        "/",
        "/cloud",
    ],
)
def test_unknown_paths_are_404_with_gcore_body(api: Api, gcore_group: str, path: str) -> None:
    url = api.emulator.base_url + path.format(group=gcore_group)
    assert_error(api.session.get(url), 404, "NotFoundError")


def test_non_integer_ids_in_rule_path_are_404(api: Api) -> None:
    url = f"{api.prefix}/securitygrouprules/one/1/{uuid.uuid4()}"
    assert_error(api.session.delete(url), 404, "NotFoundError")


def test_wrong_method_on_known_path_is_405(api: Api, gcore_group: str) -> None:
    response = api.session.patch(api.url(f"/securitygrouprules/{api.pr}/{uuid.uuid4()}"), json={})
    assert_error(response, 405, "MethodNotAllowed")
    assert response.headers["Allow"] == "DELETE, PUT"
    response = api.session.delete(api.url(f"/securitygroups/{api.pr}/{gcore_group}/rules"))
    assert_error(response, 405, "MethodNotAllowed")


def test_remote_group_must_exist(api: Api, gcore_group: str, gcore_emulator: GcoreEmulator) -> None:
    missing = str(uuid.uuid4())
    assert_error(
        api.create(gcore_group, {"direction": "ingress", "remote_group_id": missing}),
        404,
        "NotFoundError",
    )
    remote = gcore_emulator.create_group(name="remote")
    rule = api.create(gcore_group, {"direction": "ingress", "remote_group_id": remote.upper()})
    assert rule.status_code == 200
    assert rule.json()["remote_group_id"] == remote


def test_deleting_a_remote_group_cascades_to_rules_naming_it(
    api: Api, gcore_group: str, gcore_emulator: GcoreEmulator
) -> None:
    remote = gcore_emulator.create_group(name="remote")
    api.create(gcore_group, {"direction": "ingress", "remote_group_id": remote})
    kept = api.create(gcore_group, TCP_22).json()
    gcore_emulator.delete_group(remote)
    assert [r["id"] for r in api.group(gcore_group).json()["security_group_rules"]] == [kept["id"]]


# --------------------------------------------------------------------------------------
# authentication
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "APIKey wrong-key"},
        {"Authorization": f"Bearer {KEY}"},
        {"Authorization": f"Token {KEY}"},
        {"Authorization": KEY},
        {"Authorization": "APIKey "},
        {"Authorization": f"APIKey {KEY}x"},
        {"Authorization": f"APIKey  {KEY}"},
        {"X-API-Key": KEY},
    ],
    ids=[
        "missing",
        "wrong-key",
        "bearer",
        "token",
        "no-scheme",
        "empty",
        "suffix",
        "two-spaces",
        "other-header",
    ],
)
def test_bad_auth_is_401(
    gcore_emulator: GcoreEmulator, gcore_group: str, headers: dict[str, str]
) -> None:
    url = f"{gcore_emulator.base_url}/cloud/v1/securitygroups/1/1/{gcore_group}"
    with requests.Session() as session:
        for response in (
            session.get(url, headers=headers),
            session.post(f"{url}/rules", json=TCP_22, headers=headers),
        ):
            body = assert_error(response, 401, "Unauthorized")
            assert body["message"] == "Token is invalid or expired"
    assert gcore_emulator.rules(gcore_group) == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Authorization", f"APIKey {KEY}"),
        ("authorization", f"apikey {KEY}"),
        ("AUTHORIZATION", f"APIKEY {KEY}"),
        ("Authorization", f"ApiKey {KEY}"),
    ],
)
def test_auth_header_and_scheme_are_case_insensitive(
    gcore_emulator: GcoreEmulator, gcore_group: str, name: str, value: str
) -> None:
    url = f"{gcore_emulator.base_url}/cloud/v1/securitygroups/1/1/{gcore_group}"
    with requests.Session() as session:
        assert session.get(url, headers={name: value}).status_code == 200


def test_auth_is_checked_before_routing_and_validation(
    gcore_emulator: GcoreEmulator, gcore_group: str
) -> None:
    base = gcore_emulator.base_url
    with requests.Session() as session:
        assert_error(session.get(f"{base}/nowhere"), 401, "Unauthorized")
        assert_error(
            session.post(
                f"{base}/cloud/v1/securitygroups/1/1/{gcore_group}/rules", data=b"{not json"
            ),
            401,
            "Unauthorized",
        )
        assert_error(
            session.delete(f"{base}/cloud/v1/securitygrouprules/1/1/{uuid.uuid4()}"),
            401,
            "Unauthorized",
        )


def test_custom_api_key() -> None:
    with GcoreEmulator(api_key="s3cret") as emulator, requests.Session() as session:
        url = f"{emulator.base_url}/cloud/v1/securitygroups/1/1"
        assert session.get(url, headers=AUTH).status_code == 401
        assert session.get(url, headers={"Authorization": "APIKey s3cret"}).status_code == 200


# --------------------------------------------------------------------------------------
# request body and Neutron validation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"{", b"[1,", b"nul", b'{"direction": NaN}', b"\xff\xfe"])
def test_malformed_json_is_400(api: Api, gcore_group: str, raw: bytes) -> None:
    url = api.url(f"/securitygroups/{api.pr}/{gcore_group}/rules")
    response = api.session.post(url, data=raw, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "ValidationError")


def test_chunked_request_body_is_read(api: Api, gcore_group: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"direction": '
        yield b'"ingress", "protocol": "udp"}'

    url = api.url(f"/securitygroups/{api.pr}/{gcore_group}/rules")
    response = api.session.post(url, data=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["protocol"] == "udp"
    assert api.group(gcore_group).status_code == 200
    assert api.emulator.connections_accepted == 1


@pytest.mark.parametrize("length", ["abc", "-1", "99999999999"])
def test_bad_content_length_is_400_and_closes(gcore_emulator: GcoreEmulator, length: str) -> None:
    port = int(gcore_emulator.base_url.rsplit(":", 1)[1])
    request = (
        f"POST /cloud/v1/securitygroups/1/1 HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: APIKey {KEY}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"Connection: close" in head
    assert json.loads(body)["exception_class"] == "ValidationError"


@pytest.mark.parametrize("body", [[], "ingress", 1, None])
def test_non_object_body_is_400(api: Api, gcore_group: str, body: Any) -> None:
    url = api.url(f"/securitygroups/{api.pr}/{gcore_group}/rules")
    response = api.session.post(url, data=json.dumps(body))
    assert_error(response, 400, "ValidationError")


VALID_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("minimal", {"direction": "ingress"}),
    ("egress-ipv6", {"direction": "egress", "ethertype": "IPv6"}),
    ("any", {"direction": "ingress", "protocol": "any"}),
    (
        "tcp-full",
        {"direction": "ingress", "protocol": "tcp", "port_range_min": 1, "port_range_max": 65535},
    ),
    (
        "udp-single",
        {"direction": "ingress", "protocol": "udp", "port_range_min": 53, "port_range_max": 53},
    ),
    (
        "sctp",
        {"direction": "ingress", "protocol": "sctp", "port_range_min": 10, "port_range_max": 20},
    ),
    (
        "dccp",
        {"direction": "ingress", "protocol": "dccp", "port_range_min": 10, "port_range_max": 20},
    ),
    (
        "udplite",
        {"direction": "ingress", "protocol": "udplite", "port_range_min": 1, "port_range_max": 2},
    ),
    ("tcp-no-ports", {"direction": "ingress", "protocol": "tcp"}),
    (
        "tcp-null-ports",
        {"direction": "ingress", "protocol": "tcp", "port_range_min": None, "port_range_max": None},
    ),
    (
        "icmp-type-code",
        {"direction": "ingress", "protocol": "icmp", "port_range_min": 8, "port_range_max": 0},
    ),
    ("icmp-type-only", {"direction": "ingress", "protocol": "icmp", "port_range_min": 8}),
    (
        "icmp-zero",
        {"direction": "ingress", "protocol": "icmp", "port_range_min": 0, "port_range_max": 255},
    ),
    ("icmp-any", {"direction": "ingress", "protocol": "icmp"}),
    (
        "ipv6-icmp",
        {
            "direction": "ingress",
            "ethertype": "IPv6",
            "protocol": "ipv6-icmp",
            "port_range_min": 128,
        },
    ),
    ("ipv6-frag", {"direction": "ingress", "ethertype": "IPv6", "protocol": "ipv6-frag"}),
    ("gre", {"direction": "ingress", "protocol": "gre"}),
    ("vrrp", {"direction": "egress", "protocol": "vrrp", "remote_ip_prefix": "224.0.0.18/32"}),
    (
        "ipv6-prefix",
        {"direction": "ingress", "ethertype": "IPv6", "remote_ip_prefix": "2001:db8::/32"},
    ),
    ("null-prefix", {"direction": "ingress", "remote_ip_prefix": None}),
    ("description-255", {"direction": "ingress", "description": "d" * 255}),
    ("description-empty", {"direction": "ingress", "description": ""}),
    (
        "unknown-keys-ignored",
        {"direction": "ingress", "foo": 1, "security_group_id": "nonsense", "id": "x"},
    ),
]


@pytest.mark.parametrize("body", [b for _, b in VALID_BODIES], ids=[n for n, _ in VALID_BODIES])
def test_valid_bodies_are_accepted(api: Api, gcore_group: str, body: dict[str, Any]) -> None:
    response = api.create(gcore_group, body)
    assert response.status_code == 200, response.text
    rule = response.json()
    assert set(rule) == RULE_KEYS
    assert rule["security_group_id"] == gcore_group
    whole_range = (body.get("port_range_min"), body.get("port_range_max")) == (1, 65535)
    for name in ("direction", "port_range_min", "port_range_max", "description"):
        if name in body:
            # Neutron stores a port protocol's whole range as no range (null/null).
            expected = None if whole_range and name.startswith("port_") else body[name]
            assert rule[name] == expected
    assert rule["protocol"] == (None if body.get("protocol") in (None, "any") else body["protocol"])


# (case id, body, field expected in invalid_fields)
INVALID_BODIES: list[tuple[str, dict[str, Any], str]] = [
    # --- request schema ---
    ("direction-missing", {"protocol": "tcp"}, "direction"),
    ("direction-bad", {"direction": "in"}, "direction"),
    ("direction-case", {"direction": "Ingress"}, "direction"),
    ("direction-null", {"direction": None}, "direction"),
    ("ethertype-case", {"direction": "ingress", "ethertype": "ipv4"}, "ethertype"),
    ("ethertype-null", {"direction": "ingress", "ethertype": None}, "ethertype"),
    ("protocol-case", {"direction": "ingress", "protocol": "TCP"}, "protocol"),
    ("protocol-unknown", {"direction": "ingress", "protocol": "icmpv6"}, "protocol"),
    ("protocol-number", {"direction": "ingress", "protocol": 6}, "protocol"),
    ("protocol-null", {"direction": "ingress", "protocol": None}, "protocol"),
    (
        "port-string",
        {"direction": "ingress", "protocol": "tcp", "port_range_min": "80", "port_range_max": 80},
        "port_range_min",
    ),
    (
        "port-float",
        {"direction": "ingress", "protocol": "tcp", "port_range_min": 80.0, "port_range_max": 80},
        "port_range_min",
    ),
    (
        "port-bool",
        {"direction": "ingress", "protocol": "tcp", "port_range_min": True, "port_range_max": 80},
        "port_range_min",
    ),
    (
        "port-negative",
        {"direction": "ingress", "protocol": "tcp", "port_range_min": -1, "port_range_max": 80},
        "port_range_min",
    ),
    (
        "port-too-big",
        {"direction": "ingress", "protocol": "tcp", "port_range_min": 1, "port_range_max": 65536},
        "port_range_max",
    ),
    ("description-256", {"direction": "ingress", "description": "d" * 256}, "description"),
    ("description-number", {"direction": "ingress", "description": 5}, "description"),
    ("description-null", {"direction": "ingress", "description": None}, "description"),
    (
        "remote-group-bad",
        {"direction": "ingress", "remote_group_id": "not-a-uuid"},
        "remote_group_id",
    ),
    (
        "remote-group-v1",
        {"direction": "ingress", "remote_group_id": "c232ab00-9414-11ec-b3c8-9f6bdeced846"},
        "remote_group_id",
    ),
    ("remote-group-null", {"direction": "ingress", "remote_group_id": None}, "remote_group_id"),
    (
        "prefix-bad-len",
        {"direction": "ingress", "remote_ip_prefix": "10.0.0.0/33"},
        "remote_ip_prefix",
    ),
    (
        "prefix-hostname",
        {"direction": "ingress", "remote_ip_prefix": "example.com"},
        "remote_ip_prefix",
    ),
    ("prefix-empty", {"direction": "ingress", "remote_ip_prefix": ""}, "remote_ip_prefix"),
    ("prefix-int", {"direction": "ingress", "remote_ip_prefix": 167772160}, "remote_ip_prefix"),
    # --- Neutron: ports need a protocol ---
    (
        "ports-without-protocol",
        {"direction": "ingress", "port_range_min": 80, "port_range_max": 80},
        "protocol",
    ),
    (
        "ports-with-any",
        {"direction": "ingress", "protocol": "any", "port_range_min": 80, "port_range_max": 80},
        "protocol",
    ),
    ("max-only-without-protocol", {"direction": "ingress", "port_range_max": 80}, "protocol"),
    # --- Neutron: port ranges for tcp/udp/sctp/dccp/udplite ---
    (
        "tcp-min-zero",
        {"direction": "ingress", "protocol": "tcp", "port_range_min": 0, "port_range_max": 80},
        "port_range_min",
    ),
    (
        "tcp-max-zero",
        {"direction": "ingress", "protocol": "tcp", "port_range_min": 1, "port_range_max": 0},
        "port_range_max",
    ),
    (
        "udp-both-zero",
        {"direction": "ingress", "protocol": "udp", "port_range_min": 0, "port_range_max": 0},
        "port_range_min",
    ),
    (
        "tcp-min-only",
        {"direction": "ingress", "protocol": "tcp", "port_range_min": 80},
        "port_range_max",
    ),
    (
        "tcp-max-only",
        {"direction": "ingress", "protocol": "tcp", "port_range_max": 80},
        "port_range_min",
    ),
    (
        "tcp-min-gt-max",
        {"direction": "ingress", "protocol": "tcp", "port_range_min": 81, "port_range_max": 80},
        "port_range_min",
    ),
    (
        "sctp-min-gt-max",
        {"direction": "ingress", "protocol": "sctp", "port_range_min": 2, "port_range_max": 1},
        "port_range_min",
    ),
    (
        "udplite-min-only",
        {"direction": "ingress", "protocol": "udplite", "port_range_min": 5},
        "port_range_max",
    ),
    # --- Neutron: ICMP type / code ---
    (
        "icmp-type-256",
        {"direction": "ingress", "protocol": "icmp", "port_range_min": 256},
        "port_range_min",
    ),
    (
        "icmp-code-256",
        {"direction": "ingress", "protocol": "icmp", "port_range_min": 8, "port_range_max": 256},
        "port_range_max",
    ),
    (
        "icmp-code-without-type",
        {"direction": "ingress", "protocol": "icmp", "port_range_max": 0},
        "port_range_min",
    ),
    (
        "ipv6-icmp-code-without-type",
        {"direction": "ingress", "ethertype": "IPv6", "protocol": "ipv6-icmp", "port_range_max": 1},
        "port_range_min",
    ),
    # --- Neutron: other protocols take no ports ---
    (
        "gre-with-ports",
        {"direction": "ingress", "protocol": "gre", "port_range_min": 1, "port_range_max": 2},
        "protocol",
    ),
    ("esp-with-min", {"direction": "ingress", "protocol": "esp", "port_range_min": 1}, "protocol"),
    (
        "vrrp-with-max",
        {"direction": "ingress", "protocol": "vrrp", "port_range_max": 1},
        "protocol",
    ),
    # --- Neutron: families ---
    (
        "ipv4-with-ipv6-prefix",
        {"direction": "ingress", "ethertype": "IPv4", "remote_ip_prefix": "::/0"},
        "ethertype",
    ),
    (
        "default-ethertype-ipv6-prefix",
        {"direction": "ingress", "remote_ip_prefix": "2001:db8::/32"},
        "ethertype",
    ),
    (
        "ipv6-with-ipv4-prefix",
        {"direction": "ingress", "ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"},
        "remote_ip_prefix",
    ),
    (
        "ipv6-icmp-on-ipv4",
        {"direction": "ingress", "ethertype": "IPv4", "protocol": "ipv6-icmp"},
        "ethertype",
    ),
    ("ipv6-frag-default-ethertype", {"direction": "ingress", "protocol": "ipv6-frag"}, "protocol"),
    (
        "ipv6-route-on-ipv4",
        {"direction": "ingress", "protocol": "ipv6-route", "ethertype": "IPv4"},
        "ethertype",
    ),
    # --- Neutron: remote prefix xor remote group ---
    (
        "prefix-and-group",
        {
            "direction": "ingress",
            "remote_ip_prefix": "10.0.0.0/8",
            "remote_group_id": "00000000-0000-4000-8000-000000000000",
        },
        "remote_group_id",
    ),
]


@pytest.mark.parametrize(
    ("body", "field"),
    [(b, f) for _, b, f in INVALID_BODIES],
    ids=[n for n, _, _ in INVALID_BODIES],
)
def test_invalid_bodies_are_400(
    api: Api, gcore_group: str, gcore_emulator: GcoreEmulator, body: dict[str, Any], field: str
) -> None:
    error = assert_error(api.create(gcore_group, body), 400, "ValidationError")
    assert field in error["invalid_fields"], error
    assert gcore_emulator.rules(gcore_group) == []
    # The out-of-band path applies the very same checks.
    with pytest.raises(ValueError, match=r"\w"):
        gcore_emulator.add_rule(gcore_group, **body)


def test_schema_reports_every_bad_field_at_once() -> None:
    with pytest.raises(RuleValidationError) as info:
        check_schema({"ethertype": "x", "protocol": "y", "port_range_min": "z", "description": 1})
    assert set(info.value.invalid_fields) == {
        "direction",
        "ethertype",
        "protocol",
        "port_range_min",
        "description",
    }


def test_neutron_rules_as_pure_functions() -> None:
    spec = check_neutron_rules(check_schema({"direction": "egress", "protocol": "any"}))
    assert spec == {
        "direction": "egress",
        "ethertype": "IPv4",
        "protocol": None,
        "port_range_min": None,
        "port_range_max": None,
        "remote_ip_prefix": None,
        "remote_group_id": None,
        "description": "",
    }
    with pytest.raises(RuleValidationError, match="port 0"):
        check_neutron_rules(
            {"direction": "ingress", "protocol": "tcp", "port_range_min": 0, "port_range_max": 1}
        )
    base = {"direction": "ingress", "ethertype": "IPv4", "protocol": None}
    key = duplicate_key("g", {**base, "remote_ip_prefix": None, "description": "a"})
    assert key == duplicate_key("g", {**base, "remote_ip_prefix": "0.0.0.0/0", "description": "b"})
    assert key == duplicate_key("g", {**base, "protocol": "any", "remote_ip_prefix": "::/0"})
    assert key != duplicate_key("h", {**base, "remote_ip_prefix": None})


# --------------------------------------------------------------------------------------
# normalisation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ethertype", "given", "stored"),
    [
        ("IPv4", "10.1.2.3/8", "10.0.0.0/8"),
        ("IPv4", "10.1.2.3", "10.1.2.3/32"),
        ("IPv4", "192.168.1.7/255.255.255.0", "192.168.1.0/24"),
        ("IPv4", "0.0.0.0/0", "0.0.0.0/0"),
        ("IPv4", " 172.16.0.0/12 ", "172.16.0.0/12"),
        ("IPv6", "2001:DB8::1", "2001:db8::1/128"),
        ("IPv6", "2001:db8:0:0:0:0:0:5/32", "2001:db8::/32"),
        ("IPv6", "::/0", "::/0"),
    ],
)
def test_prefix_is_stored_in_network_form(
    api: Api, gcore_group: str, ethertype: str, given: str, stored: str
) -> None:
    body = {"direction": "ingress", "ethertype": ethertype, "remote_ip_prefix": given}
    rule = api.create(gcore_group, body).json()
    assert rule["remote_ip_prefix"] == stored
    assert api.group(gcore_group).json()["security_group_rules"][0]["remote_ip_prefix"] == stored
    assert normalize_ip_prefix(given) == stored


def test_protocol_any_is_stored_and_returned_as_null(api: Api, gcore_group: str) -> None:
    rule = api.create(gcore_group, {"direction": "ingress", "protocol": "any"}).json()
    assert rule["protocol"] is None
    assert api.group(gcore_group).json()["security_group_rules"][0]["protocol"] is None


# --------------------------------------------------------------------------------------
# duplicates
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (TCP_22, TCP_22),
        (TCP_22, {**TCP_22, "description": "something else"}),
        (TCP_22, {**TCP_22, "remote_ip_prefix": "10.9.9.9/8"}),
        ({"direction": "ingress"}, {"direction": "ingress", "remote_ip_prefix": "0.0.0.0/0"}),
        ({"direction": "ingress", "remote_ip_prefix": "0.0.0.0/0"}, {"direction": "ingress"}),
        (
            {"direction": "egress", "ethertype": "IPv6"},
            {"direction": "egress", "ethertype": "IPv6", "remote_ip_prefix": "::/0"},
        ),
        (
            {"direction": "egress", "ethertype": "IPv6", "remote_ip_prefix": "::/0"},
            {"direction": "egress", "ethertype": "IPv6", "remote_ip_prefix": None},
        ),
        ({"direction": "ingress", "protocol": "any"}, {"direction": "ingress"}),
        ({"direction": "ingress", "ethertype": "IPv4"}, {"direction": "ingress"}),
        (
            {"direction": "ingress", "protocol": "icmp", "port_range_min": 8},
            {
                "direction": "ingress",
                "protocol": "icmp",
                "port_range_min": 8,
                "port_range_max": None,
            },
        ),
    ],
    ids=[
        "identical",
        "description-ignored",
        "prefix-host-bits",
        "null-then-0/0",
        "0/0-then-null",
        "ipv6-null-then-::/0",
        "ipv6-::/0-then-null",
        "any-vs-omitted",
        "default-ethertype",
        "null-port-explicit",
    ],
)
def test_duplicates_are_409(
    api: Api,
    gcore_group: str,
    gcore_emulator: GcoreEmulator,
    first: dict[str, Any],
    second: dict[str, Any],
) -> None:
    original = api.create(gcore_group, first).json()
    error = assert_error(api.create(gcore_group, second), 409, "ConflictError")
    assert error["message"] == f"Security group rule already exists. Rule id is {original['id']}."
    assert "invalid_fields" not in error
    assert [r["id"] for r in gcore_emulator.rules(gcore_group)] == [original["id"]]
    with pytest.raises(ValueError, match="already exists"):
        gcore_emulator.add_rule(gcore_group, **second)


@pytest.mark.parametrize(
    "second",
    [
        {**TCP_22, "direction": "egress"},
        {**TCP_22, "port_range_max": 23},
        {**TCP_22, "protocol": "udp"},
        {**TCP_22, "remote_ip_prefix": "10.0.0.0/9"},
        {**TCP_22, "remote_ip_prefix": None},
        {**TCP_22, "remote_ip_prefix": "0.0.0.0/0"},
        {**TCP_22, "ethertype": "IPv6", "remote_ip_prefix": "::/0"},
    ],
)
def test_non_duplicates_are_accepted(api: Api, gcore_group: str, second: dict[str, Any]) -> None:
    assert api.create(gcore_group, TCP_22).status_code == 200
    assert api.create(gcore_group, second).status_code == 200


def test_ipv4_and_ipv6_allow_all_are_distinct(api: Api, gcore_group: str) -> None:
    assert api.create(gcore_group, {"direction": "egress", "ethertype": "IPv4"}).status_code == 200
    assert api.create(gcore_group, {"direction": "egress", "ethertype": "IPv6"}).status_code == 200


def test_same_rule_in_another_group_is_fine(
    api: Api, gcore_group: str, gcore_emulator: GcoreEmulator
) -> None:
    other = gcore_emulator.create_group(name="other")
    assert api.create(gcore_group, TCP_22).status_code == 200
    assert api.create(other, TCP_22).status_code == 200


def test_recreate_after_delete(api: Api, gcore_group: str) -> None:
    rule = api.create(gcore_group, TCP_22).json()
    assert api.delete(rule["id"]).status_code == 204
    again = api.create(gcore_group, TCP_22)
    assert again.status_code == 200
    assert again.json()["id"] != rule["id"]


# --------------------------------------------------------------------------------------
# out-of-band helpers
# --------------------------------------------------------------------------------------


def test_out_of_band_changes_are_visible(
    api: Api, gcore_group: str, gcore_emulator: GcoreEmulator
) -> None:
    rule = gcore_emulator.add_rule(gcore_group, **TCP_22)
    assert set(rule) == RULE_KEYS
    assert api.group(gcore_group).json()["security_group_rules"] == [rule]
    gcore_emulator.remove_rule(rule["id"])
    assert api.group(gcore_group).json()["security_group_rules"] == []
    assert_error(api.delete(rule["id"]), 404, "NotFoundError")
    with pytest.raises(KeyError):
        gcore_emulator.remove_rule(rule["id"])
    with pytest.raises(KeyError):
        gcore_emulator.add_rule(str(uuid.uuid4()), direction="ingress")
    gcore_emulator.delete_group(gcore_group)
    with pytest.raises(KeyError):
        gcore_emulator.delete_group(gcore_group)
    with pytest.raises(KeyError):
        gcore_emulator.rules(gcore_group)
    # None of this went over HTTP.
    assert gcore_emulator.count(method="POST") == 0


def test_inspection_returns_copies(gcore_emulator: GcoreEmulator, gcore_group: str) -> None:
    gcore_emulator.add_rule(gcore_group, direction="ingress")
    gcore_emulator.rules(gcore_group)[0]["direction"] = "egress"
    gcore_emulator.all_rules()[0]["protocol"] = "tcp"
    assert gcore_emulator.rules(gcore_group)[0]["direction"] == "ingress"
    assert gcore_emulator.all_rules()[0]["protocol"] is None


def test_all_rules_spans_groups(gcore_emulator: GcoreEmulator) -> None:
    a = gcore_emulator.create_group(name="a")
    b = gcore_emulator.create_group(project_id=3, region_id=4, name="b")
    gcore_emulator.add_rule(a, direction="ingress")
    gcore_emulator.add_rule(b, direction="egress")
    assert sorted(r["security_group_id"] for r in gcore_emulator.all_rules()) == sorted([a, b])


def test_seed_makes_ids_reproducible() -> None:
    first = GcoreEmulator(seed=7)
    second = GcoreEmulator(seed=7)
    ids = [first.create_group(), first.add_rule(first.create_group(), direction="ingress")["id"]]
    again = [
        second.create_group(),
        second.add_rule(second.create_group(), direction="ingress")["id"],
    ]
    assert ids == again
    assert all(uuid.UUID(i).version == 4 for i in ids)


# --------------------------------------------------------------------------------------
# server behaviour: keep-alive, lifecycle
# --------------------------------------------------------------------------------------


def test_keep_alive_reuses_one_connection(
    api: Api, gcore_group: str, gcore_emulator: GcoreEmulator
) -> None:
    rule = api.create(gcore_group, TCP_22).json()
    api.create(gcore_group, TCP_22)  # 409
    api.group(gcore_group)
    api.groups()
    api.create(gcore_group, {"direction": "sideways"})  # 400
    api.delete(rule["id"])  # 204, no body
    api.delete(rule["id"])  # 404
    api.session.get(f"{gcore_emulator.base_url}/unknown")  # 404
    api.session.get(
        api.url(f"/securitygroups/{api.pr}"), headers={"Authorization": "Bearer x"}
    )  # 401
    api.group(gcore_group)
    assert gcore_emulator.count() == 10
    assert gcore_emulator.connections_accepted == 1


def test_separate_sessions_use_separate_connections(gcore_emulator: GcoreEmulator) -> None:
    url = f"{gcore_emulator.base_url}/cloud/v1/securitygroups/1/1"
    for _ in range(2):
        with requests.Session() as session:
            session.get(url, headers=AUTH)
            session.get(url, headers=AUTH)
    assert gcore_emulator.connections_accepted == 2


def test_start_is_idempotent_and_stop_closes_idle_connections() -> None:
    emulator = GcoreEmulator()
    assert emulator.start() is emulator
    url = emulator.base_url
    assert emulator.start().base_url == url
    with requests.Session() as session:
        assert session.get(f"{url}/cloud/v1/securitygroups/1/1", headers=AUTH).status_code == 200
        emulator.stop()  # while the session still holds an idle keep-alive connection
        emulator.stop()
        with pytest.raises(RuntimeError):
            _ = emulator.base_url
        with pytest.raises(requests.ConnectionError):
            session.get(f"{url}/cloud/v1/securitygroups/1/1", headers=AUTH, timeout=2)


# --------------------------------------------------------------------------------------
# request log
# --------------------------------------------------------------------------------------


def test_request_log_records_and_redacts(
    api: Api, gcore_group: str, gcore_emulator: GcoreEmulator
) -> None:
    api.create(gcore_group, {**TCP_22, "description": f"leaked {KEY} here"})
    api.group(gcore_group, headers={"Authorization": f"Bearer {KEY}"})
    leak = api.session.get(api.url(f"/securitygroups/{api.pr}/x?token={KEY}"))
    assert KEY not in leak.text
    records = gcore_emulator.requests
    assert [(r.method, r.status) for r in records] == [("POST", 200), ("GET", 401), ("GET", 404)]
    first = records[0]
    assert isinstance(first, RequestRecord)
    assert first.path == f"/cloud/v1/securitygroups/1/1/{gcore_group}/rules"
    assert first.headers["Authorization"] == "APIKey ***"
    assert first.body["protocol"] == "tcp"
    assert first.fault is None
    assert records[1].headers["Authorization"] == "Bearer ***"
    dumped = gcore_emulator.dump_log()
    assert KEY not in dumped
    assert KEY not in repr(records)
    assert len(json.loads(dumped)) == 3
    with pytest.raises(AttributeError):
        first.status = 500  # type: ignore[misc]


def test_request_log_count_and_clear(
    api: Api, gcore_group: str, gcore_emulator: GcoreEmulator
) -> None:
    api.create(gcore_group, TCP_22)
    api.group(gcore_group)
    api.group(gcore_group)
    assert gcore_emulator.count() == 3
    assert gcore_emulator.count("get") == 2
    assert gcore_emulator.count("POST", "/cloud/v1/securitygroups/1/1/") == 1
    assert gcore_emulator.count(path_prefix="/cloud/v1/securitygrouprules") == 0
    snapshot = gcore_emulator.requests
    snapshot.clear()
    assert gcore_emulator.count() == 3
    gcore_emulator.clear_log()
    assert gcore_emulator.requests == []
    assert gcore_emulator.dump_log().strip() == "[]"


# --------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO_ROOT), full_env.get("PYTHONPATH")])
    )
    return subprocess.Popen(
        [sys.executable, "-m", "gcore_pulumi.testing", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        cwd=REPO_ROOT,
    )


def test_cli_serves_prints_one_json_line_and_exits_cleanly() -> None:
    secret = "cli-secret-key"
    with _cli(
        "--port",
        "0",
        "--group",
        "web",
        "--group",
        "db",
        "--project-id",
        "5",
        "--region-id",
        "9",
        env={"GCORE_EMULATOR_API_KEY": secret},
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            line = proc.stdout.readline()
            info = json.loads(line)
            assert set(info) == {"base_url", "groups", "project_id", "region_id"}
            assert (info["project_id"], info["region_id"]) == (5, 9)
            assert set(info["groups"]) == {"web", "db"}
            assert info["base_url"].startswith("http://127.0.0.1:")
            group_url = f"{info['base_url']}/cloud/v1/securitygroups/5/9/{info['groups']['web']}"
            with requests.Session() as session:
                headers = {"Authorization": f"APIKey {secret}"}
                created = session.post(f"{group_url}/rules", json=TCP_22, headers=headers)
                assert created.status_code == 200
                assert session.get(group_url, headers=headers).json()["security_group_rules"] == [
                    created.json()
                ]
                assert session.get(group_url, headers=AUTH).status_code == 401
        finally:
            proc.terminate()
            out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert out == ""
        assert secret not in line + out + err
        assert "accepting the API key in GCORE_EMULATOR_API_KEY" in err


def test_cli_defaults_and_faults() -> None:
    env = {"GCORE_API_KEY": "", "GCORE_EMULATOR_FAULTS": "429:DELETE:1:9;drop:PATCH"}
    with _cli("--fault", "503:GET:1", "--seed", "3", env=env) as proc:
        assert proc.stdout is not None
        try:
            info = json.loads(proc.stdout.readline())
            assert list(info["groups"]) == ["default"]
            assert (info["project_id"], info["region_id"]) == (1, 1)
            url = f"{info['base_url']}/cloud/v1/securitygroups/1/1/{info['groups']['default']}"
            with requests.Session() as session:
                assert session.get(url, headers=AUTH).status_code == 503
                assert session.post(f"{url}/rules", json=TCP_22, headers=AUTH).status_code == 200
                rule_url = f"{info['base_url']}/cloud/v1/securitygrouprules/1/1/{uuid.uuid4()}"
                limited = session.delete(rule_url, headers=AUTH)
                assert limited.status_code == 429
                assert limited.headers["Retry-After"] == "9"
        finally:
            proc.terminate()
            proc.communicate(timeout=10)
        assert proc.returncode == 0


def test_cli_rejects_bad_fault_spec() -> None:
    with _cli("--fault", "418:GET:1") as proc:
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 2
    assert "unknown fault kind" in err


def test_cli_task_delay_and_duplicate_mode() -> None:
    with _cli("--task-delay", "0.3", "--duplicate-mode", "task_error") as proc:
        assert proc.stdout is not None
        try:
            info = json.loads(proc.stdout.readline())
            base, group = info["base_url"], info["groups"]["default"]
            rules_url = f"{base}/cloud/v2/security_groups/1/1/{group}/rules"
            with requests.Session() as session:
                session.headers.update(AUTH)
                first = session.post(rules_url, json=TCP_22).json()["tasks"][0]
                twin = session.post(rules_url, json=TCP_22)  # task_error: no 409 at once
                assert twin.status_code == 200
                task_url = f"{base}/cloud/v1/tasks/{first}"
                twin_url = f"{base}/cloud/v1/tasks/{twin.json()['tasks'][0]}"
                assert session.get(task_url).json()["state"] in ("NEW", "RUNNING")
                deadline = time.monotonic() + 5
                states: tuple[str, ...] = ("NEW", "NEW")
                while not {"FINISHED", "ERROR"}.issuperset(states):
                    assert time.monotonic() < deadline
                    time.sleep(0.02)
                    states = tuple(session.get(u).json()["state"] for u in (task_url, twin_url))
                assert states == ("FINISHED", "ERROR")
        finally:
            proc.terminate()
            proc.communicate(timeout=10)
        assert proc.returncode == 0


@pytest.mark.parametrize(
    "args",
    [
        ("--task-delay", "-1"),
        ("--task-delay", "soon"),
        ("--task-delay", "inf"),
        ("--duplicate-mode", "412"),
        ("--fault", "redirect:*:1:200"),
    ],
)
def test_cli_rejects_bad_task_settings(args: tuple[str, ...]) -> None:
    with _cli(*args) as proc:
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 2
    assert args[0] in err or "redirect" in err
