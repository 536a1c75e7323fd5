"""Fault injection: each fault kind does exactly what it promises to state and wire."""

from __future__ import annotations

import re
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from gcore_pulumi.testing import (
    ALL_FAULT_KINDS,
    BROKEN_ANSWER_KINDS,
    FAULT_KINDS,
    PROXY_FAULT_KINDS,
    FaultInjector,
    GcoreEmulator,
)
from gcore_pulumi.testing.faults import parse_fault_spec

pytest_plugins = ["gcore_pulumi.testing.pytest_plugin"]

AUTH = {"Authorization": "APIKey test-api-key"}
RULE = {"direction": "ingress", "protocol": "tcp", "port_range_min": 443, "port_range_max": 443}


class Api:
    """requests.Session bound to one emulator group (project 1, region 1)."""

    def __init__(self, emulator: GcoreEmulator, group_id: str) -> None:
        self.session = requests.Session()
        self.session.headers.update(AUTH)
        self.base = f"{emulator.base_url}/cloud/v1"
        self.group_url = f"{self.base}/securitygroups/1/1/{group_id}"

    def create(self, body: Any = None) -> requests.Response:
        return self.session.post(f"{self.group_url}/rules", json=RULE if body is None else body)

    def get(self) -> requests.Response:
        return self.session.get(self.group_url)

    def delete(self, rule_id: str) -> requests.Response:
        return self.session.delete(f"{self.base}/securitygrouprules/1/1/{rule_id}")

    def put(self, rule_id: str, body: Any) -> requests.Response:
        return self.session.put(f"{self.base}/securitygrouprules/1/1/{rule_id}", json=body)


@pytest.fixture
def api(gcore_emulator: GcoreEmulator, gcore_group: str) -> Iterator[Api]:
    client = Api(gcore_emulator, gcore_group)
    try:
        yield client
    finally:
        client.session.close()


def error_class(response: requests.Response) -> str:
    body = response.json()
    assert body["request_id"] == response.headers["X-Request-ID"]
    return str(body["exception_class"])


# --------------------------------------------------------------------------------------
# each kind
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", ["1", "0", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_429_answers_with_retry_after_and_changes_nothing(
    api: Api, gcore_emulator: GcoreEmulator, gcore_group: str, retry_after: str
) -> None:
    gcore_emulator.faults.add("429", method="POST", times=1, retry_after=retry_after)
    response = api.create()
    assert response.status_code == 429
    assert response.headers["Retry-After"] == retry_after
    assert error_class(response) == "TooManyRequests"
    assert gcore_emulator.rules(gcore_group) == []
    # The fault was used up: the retry goes through.
    assert api.create().status_code == 200
    assert gcore_emulator.faults.injected == {"429": 1}


def test_429_without_retry_after(api: Api, gcore_emulator: GcoreEmulator) -> None:
    gcore_emulator.faults.add("429", retry_after=None)
    response = api.get()
    assert response.status_code == 429
    assert "Retry-After" not in response.headers


@pytest.mark.parametrize(
    ("kind", "exception_class"), [("502", "BadGateway"), ("503", "ServiceUnavailable")]
)
def test_5xx_changes_nothing(
    api: Api, gcore_emulator: GcoreEmulator, gcore_group: str, kind: Any, exception_class: str
) -> None:
    rule = gcore_emulator.add_rule(gcore_group, **RULE)
    gcore_emulator.faults.add(kind)
    for response in (
        api.create({**RULE, "port_range_max": 444}),
        api.delete(rule["id"]),
        api.get(),
    ):
        assert response.status_code == int(kind)
        assert error_class(response) == exception_class
    assert [r["id"] for r in gcore_emulator.rules(gcore_group)] == [rule["id"]]
    assert gcore_emulator.faults.injected == {kind: 3}


def test_slow_delays_then_handles_normally(
    api: Api, gcore_emulator: GcoreEmulator, gcore_group: str
) -> None:
    gcore_emulator.faults.add("slow", method="POST", delay=0.2)
    started = time.monotonic()
    response = api.create()
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed >= 0.2
    assert [r["id"] for r in gcore_emulator.rules(gcore_group)] == [response.json()["id"]]
    started = time.monotonic()
    assert api.get().status_code == 200
    assert time.monotonic() - started < 0.2


def test_slow_makes_a_client_timeout(
    api: Api, gcore_emulator: GcoreEmulator, gcore_group: str
) -> None:
    gcore_emulator.faults.add("slow", method="POST", delay=0.3, times=1)
    with pytest.raises(requests.Timeout):
        api.session.post(f"{api.group_url}/rules", json=RULE, timeout=0.05)
    # The server still committed the rule: the timeout was on the client side only.
    deadline = time.monotonic() + 2
    while not gcore_emulator.rules(gcore_group) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(gcore_emulator.rules(gcore_group)) == 1


def test_commit_then_502_creates_the_rule(
    api: Api, gcore_emulator: GcoreEmulator, gcore_group: str
) -> None:
    gcore_emulator.faults.add("commit_then_502", method="POST", times=1)
    response = api.create()
    assert response.status_code == 502
    assert error_class(response) == "BadGateway"
    rules = gcore_emulator.rules(gcore_group)
    assert len(rules) == 1
    # A blind retry now meets the rule the first attempt created.
    retry = api.create()
    assert retry.status_code == 409
    assert rules[0]["id"] in retry.json()["message"]


def test_commit_then_502_on_delete_and_put(
    api: Api, gcore_emulator: GcoreEmulator, gcore_group: str
) -> None:
    first = gcore_emulator.add_rule(gcore_group, **RULE)
    second = gcore_emulator.add_rule(gcore_group, **{**RULE, "port_range_max": 444})
    gcore_emulator.faults.add("commit_then_502", method="DELETE")
    gcore_emulator.faults.add("commit_then_502", method="PUT")
    assert api.delete(first["id"]).status_code == 502
    assert api.delete(first["id"]).status_code == 502  # still faulted; underlying 404
    put = api.put(second["id"], {**RULE, "security_group_id": gcore_group, "description": "new"})
    assert put.status_code == 502
    remaining = gcore_emulator.rules(gcore_group)
    assert len(remaining) == 1
    assert remaining[0]["id"] not in (first["id"], second["id"])
    assert remaining[0]["description"] == "new"


def test_commit_then_drop_creates_the_rule(
    api: Api, gcore_emulator: GcoreEmulator, gcore_group: str
) -> None:
    gcore_emulator.faults.add("commit_then_drop", method="POST", times=1)
    with pytest.raises(requests.ConnectionError):
        api.create()
    assert len(gcore_emulator.rules(gcore_group)) == 1
    # The session recovers on a fresh connection.
    assert api.get().status_code == 200
    assert gcore_emulator.connections_accepted == 2


def test_drop_changes_nothing(api: Api, gcore_emulator: GcoreEmulator, gcore_group: str) -> None:
    gcore_emulator.faults.add("drop", method="POST", times=1)
    with pytest.raises(requests.ConnectionError):
        api.create()
    assert gcore_emulator.rules(gcore_group) == []
    assert api.create().status_code == 200
    assert len(gcore_emulator.rules(gcore_group)) == 1


def test_faults_are_logged(api: Api, gcore_emulator: GcoreEmulator) -> None:
    gcore_emulator.faults.add("drop", schedule=[1])
    gcore_emulator.faults.add("commit_then_502", schedule=[2])
    gcore_emulator.faults.add("429", schedule=[3])
    with pytest.raises(requests.ConnectionError):
        api.get()
    api.get()
    api.get()
    api.get()
    assert [(r.status, r.fault) for r in gcore_emulator.requests] == [
        (None, "drop"),
        (502, "commit_then_502"),
        (429, "429"),
        (200, None),
    ]
    assert gcore_emulator.faults.injected == {"drop": 1, "commit_then_502": 1, "429": 1}
    assert "test-api-key" not in gcore_emulator.dump_log()


# --------------------------------------------------------------------------------------
# selection: auth first, method, path, schedule, times, probability
# --------------------------------------------------------------------------------------


def test_faults_apply_after_auth(gcore_emulator: GcoreEmulator, gcore_group: str) -> None:
    gcore_emulator.faults.add("503")
    url = f"{gcore_emulator.base_url}/cloud/v1/securitygroups/1/1/{gcore_group}"
    with requests.Session() as session:
        assert session.get(url, headers={"Authorization": "APIKey nope"}).status_code == 401
        assert session.get(url, headers=AUTH).status_code == 503
    assert gcore_emulator.faults.injected == {"503": 1}
    assert [r.fault for r in gcore_emulator.requests] == [None, "503"]


def test_method_and_path_filters(api: Api, gcore_emulator: GcoreEmulator) -> None:
    gcore_emulator.faults.add("503", method="post")
    gcore_emulator.faults.add("502", path_prefix="/cloud/v1/securitygrouprules/")
    assert api.get().status_code == 200
    assert api.create().status_code == 503
    assert api.delete(str(uuid.uuid4())).status_code == 502
    assert gcore_emulator.faults.injected == {"503": 1, "502": 1}


def test_method_star_matches_everything(api: Api, gcore_emulator: GcoreEmulator) -> None:
    gcore_emulator.faults.add("503", method="*")
    assert api.get().status_code == 503
    assert api.create().status_code == 503


def test_schedule_picks_matching_requests_by_position(
    api: Api, gcore_emulator: GcoreEmulator
) -> None:
    gcore_emulator.faults.add("503", method="GET", schedule=[2, 4])
    statuses = []
    for _ in range(5):
        api.create({**RULE, "port_range_max": 500 + len(statuses)})  # POSTs do not count
        statuses.append(api.get().status_code)
    assert statuses == [200, 503, 200, 503, 200]


def test_rules_count_positions_independently(api: Api, gcore_emulator: GcoreEmulator) -> None:
    gcore_emulator.faults.add("502", schedule=[1])
    gcore_emulator.faults.add("503", schedule=[2])
    assert [api.get().status_code for _ in range(3)] == [502, 503, 200]


def test_times_limits_injections(api: Api, gcore_emulator: GcoreEmulator) -> None:
    gcore_emulator.faults.add("503", times=2)
    assert [api.get().status_code for _ in range(4)] == [503, 503, 200, 200]
    gcore_emulator.faults.add("502", times=0)
    assert api.get().status_code == 200


def test_probability_is_seeded_and_deterministic() -> None:
    def run(seed: int) -> list[bool]:
        injector = FaultInjector(seed)
        injector.add("503", probability=0.5)
        return [injector.decide("GET", "/x") is not None for _ in range(200)]

    first, again, other = run(11), run(11), run(12)
    assert first == again
    assert first != other
    assert 60 < sum(first) < 140


def test_probability_zero_and_one() -> None:
    injector = FaultInjector(0)
    injector.add("503", probability=0.0)
    assert all(injector.decide("GET", "/") is None for _ in range(50))
    injector.clear()
    injector.add("503", probability=1.0)
    assert all(injector.decide("GET", "/") is not None for _ in range(50))


def test_emulator_seed_drives_fault_draws() -> None:
    def run() -> list[str | None]:
        with GcoreEmulator(seed=5) as emulator, requests.Session() as session:
            emulator.faults.add("503", probability=0.5)
            url = f"{emulator.base_url}/cloud/v1/securitygroups/1/1"
            for _ in range(20):
                session.get(url, headers=AUTH)
            return [r.fault for r in emulator.requests]

    assert run() == run()


def test_clear_removes_rules_and_counts(api: Api, gcore_emulator: GcoreEmulator) -> None:
    gcore_emulator.faults.add("503")
    assert api.get().status_code == 503
    gcore_emulator.faults.clear()
    assert gcore_emulator.faults.injected == {}
    assert api.get().status_code == 200


def test_injected_is_a_copy() -> None:
    injector = FaultInjector()
    injector.add("502")
    injector.decide("GET", "/")
    counts = injector.injected
    counts["502"] = 99
    assert injector.injected == {"502": 1}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "418"},
        {"kind": "503", "probability": 1.5},
        {"kind": "503", "probability": -0.1},
        {"kind": "503", "times": -1},
        {"kind": "503", "schedule": [0]},
        {"kind": "slow", "delay": -1.0},
        {"kind": "slow", "delay": float("inf")},
    ],
)
def test_add_rejects_nonsense(kwargs: dict[str, Any]) -> None:
    injector = FaultInjector()
    kind = kwargs.pop("kind")
    with pytest.raises(ValueError, match=r"\w"):
        injector.add(kind, **kwargs)


def test_every_kind_is_known() -> None:
    assert set(FAULT_KINDS) == {
        "429",
        "502",
        "503",
        "slow",
        "commit_then_502",
        "commit_then_drop",
        "drop",
    }
    assert set(PROXY_FAULT_KINDS) == {"html_404", "empty_404", "redirect", "html_502"}
    assert set(BROKEN_ANSWER_KINDS) == {"commit_then_truncate", "commit_then_html_200"}
    assert ALL_FAULT_KINDS == FAULT_KINDS + PROXY_FAULT_KINDS + BROKEN_ANSWER_KINDS


# --------------------------------------------------------------------------------------
# answers that are not Gcore speaking (a proxy, a wrong base URL)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "status"), [("html_404", 404), ("html_502", 502)])
def test_html_answers_change_nothing(
    api: Api, gcore_emulator: GcoreEmulator, gcore_group: str, kind: Any, status: int
) -> None:
    rule = gcore_emulator.add_rule(gcore_group, **RULE)
    gcore_emulator.faults.add(kind)
    for response in (api.create({**RULE, "port_range_max": 444}), api.delete(rule["id"])):
        assert response.status_code == status
        assert response.headers["Content-Type"] == "text/html"
        assert response.text.lstrip().startswith("<html>") and str(status) in response.text
        assert "X-Request-ID" not in response.headers
    assert [r["id"] for r in gcore_emulator.rules(gcore_group)] == [rule["id"]]
    assert gcore_emulator.faults.injected == {kind: 2}
    assert [r.status for r in gcore_emulator.requests] == [status, status]


def test_empty_404_has_no_body_and_changes_nothing(
    api: Api, gcore_emulator: GcoreEmulator, gcore_group: str
) -> None:
    rule = gcore_emulator.add_rule(gcore_group, **RULE)
    gcore_emulator.faults.add("empty_404", method="DELETE")
    response = api.delete(rule["id"])
    assert (response.status_code, response.content) == (404, b"")
    assert response.headers["Content-Length"] == "0"
    assert "Content-Type" not in response.headers
    assert [r["id"] for r in gcore_emulator.rules(gcore_group)] == [rule["id"]]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_points_elsewhere_and_changes_nothing(
    api: Api, gcore_emulator: GcoreEmulator, gcore_group: str, status: int
) -> None:
    rule = gcore_emulator.add_rule(gcore_group, **RULE)
    gcore_emulator.faults.add("redirect", method="DELETE", redirect_status=status)
    response = api.session.delete(
        f"{api.base}/securitygrouprules/1/1/{rule['id']}?x=1", allow_redirects=False
    )
    assert response.status_code == status
    assert response.headers["Location"] == (
        f"http://127.0.0.1:9/cloud/v1/securitygrouprules/1/1/{rule['id']}?x=1"
    )
    assert [r["id"] for r in gcore_emulator.rules(gcore_group)] == [rule["id"]]


def test_redirect_location_is_configurable(api: Api, gcore_emulator: GcoreEmulator) -> None:
    gcore_emulator.faults.add("redirect", location="https://proxy.invalid/")
    response = api.session.get(api.group_url, allow_redirects=False)
    assert response.status_code == 308
    path = api.group_url.removeprefix(gcore_emulator.base_url)
    assert response.headers["Location"] == "https://proxy.invalid" + path
    with pytest.raises(ValueError, match="redirect_status"):
        gcore_emulator.faults.add("redirect", redirect_status=200)


# --------------------------------------------------------------------------------------
# faults on every route
# --------------------------------------------------------------------------------------

V2_ROUTES = [
    ("GET", "/cloud/v1/securitygroups/1/1"),
    ("DELETE", "/cloud/v1/securitygroups/1/1/{group}"),
    ("POST", "/cloud/v2/security_groups/1/1"),
    ("PATCH", "/cloud/v2/security_groups/1/1/{group}"),
    ("POST", "/cloud/v2/security_groups/1/1/{group}/rules"),
    ("DELETE", "/cloud/v2/security_groups/1/1/{group}/rules/{rule}"),
    ("GET", "/cloud/v1/tasks"),
    ("GET", "/cloud/v1/tasks/{task}"),
]
V2_BODIES: dict[str, Any] = {
    "POST /cloud/v2/security_groups/1/1": {"name": "made", "rules": []},
    "PATCH /cloud/v2/security_groups/1/1/{group}": {"name": "renamed"},
    "POST /cloud/v2/security_groups/1/1/{group}/rules": {**RULE, "port_range_max": 500},
}


@pytest.mark.parametrize(("method", "template"), V2_ROUTES)
@pytest.mark.parametrize("kind", ["503", "html_404", "empty_404", "redirect", "html_502", "drop"])
def test_faults_apply_to_every_new_route_and_change_nothing(
    gcore_emulator: GcoreEmulator, gcore_group: str, method: str, template: str, kind: Any
) -> None:
    gcore_emulator.finish_tasks()
    rule = gcore_emulator.add_rule(gcore_group, **RULE)
    with requests.Session() as session:
        session.headers.update(AUTH)
        made = session.post(
            f"{gcore_emulator.base_url}/cloud/v2/security_groups/1/1",
            json={"name": "seed", "rules": []},
        )
        task_id = made.json()["tasks"][0]
        gcore_emulator.finish_tasks()
        before = (gcore_emulator.groups(), gcore_emulator.tasks())
        gcore_emulator.faults.add(kind, method=method)
        path = template.format(group=gcore_group, rule=rule["id"], task=task_id)
        url = gcore_emulator.base_url + path
        body = V2_BODIES.get(f"{method} {template}")
        if kind == "drop":
            with pytest.raises(requests.ConnectionError):
                session.request(method, url, json=body, allow_redirects=False)
        else:
            response = session.request(method, url, json=body, allow_redirects=False)
            assert response.status_code == {"503": 503, "html_502": 502, "redirect": 308}.get(
                kind, 404
            )
        gcore_emulator.finish_tasks()
        assert (gcore_emulator.groups(), gcore_emulator.tasks()) == before
        assert gcore_emulator.faults.injected == {kind: 1}


def test_commit_then_drop_on_v2_post_loses_the_task_id_only(
    gcore_emulator: GcoreEmulator, gcore_group: str
) -> None:
    gcore_emulator.faults.add("commit_then_drop", method="POST", times=1)
    with requests.Session() as session:
        session.headers.update(AUTH)
        url = f"{gcore_emulator.base_url}/cloud/v2/security_groups/1/1/{gcore_group}/rules"
        with pytest.raises(requests.ConnectionError):
            session.post(url, json=RULE)
    gcore_emulator.finish_tasks()
    (task,) = gcore_emulator.tasks()
    assert task["state"] == "FINISHED"
    assert [r["id"] for r in gcore_emulator.rules(gcore_group)] == task["created_resources"][
        "security_group_rules"
    ]


# --------------------------------------------------------------------------------------
# success answers broken on the way, after Gcore committed the change (issue 15.2)
# --------------------------------------------------------------------------------------


def test_commit_then_truncate_creates_the_rule_and_cuts_the_body(
    api: Api, gcore_emulator: GcoreEmulator, gcore_group: str
) -> None:
    gcore_emulator.faults.add("commit_then_truncate", method="POST", times=1)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        api.create()
    [rule] = gcore_emulator.rules(gcore_group)
    [record] = [r for r in gcore_emulator.requests if r.method == "POST"]
    assert (record.status, record.fault) == (200, "commit_then_truncate")
    # the session recovers on a fresh connection, and a blind retry meets the rule
    retry = api.create()
    assert retry.status_code == 409 and rule["id"] in retry.json()["message"]
    assert gcore_emulator.connections_accepted == 2


def test_commit_then_truncate_promises_more_than_it_sends(
    gcore_emulator: GcoreEmulator, gcore_group: str
) -> None:
    gcore_emulator.faults.add("commit_then_truncate", method="GET", times=1)
    host, port = gcore_emulator.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            f"GET /cloud/v1/securitygroups/1/1/{gcore_group} HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: {AUTH['Authorization']}\r\n\r\n".encode()
        )
        raw = b""
        while chunk := sock.recv(65536):  # the server closes after the cut
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    promised = int(re.search(rb"Content-Length: ([0-9]+)", head)[1])  # type: ignore[index]
    assert 0 < len(body) < promised
    assert body.startswith(b"{")  # the start of the JSON Gcore sent


def test_commit_then_html_200_creates_the_rule_and_answers_a_page(
    api: Api, gcore_emulator: GcoreEmulator, gcore_group: str
) -> None:
    gcore_emulator.faults.add("commit_then_html_200", method="POST", times=1)
    response = api.create()
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html"
    assert b"<html>" in response.content
    assert len(gcore_emulator.rules(gcore_group)) == 1
    assert api.create().status_code == 409  # it was committed


@pytest.mark.parametrize("kind", ["commit_then_truncate", "commit_then_html_200"])
def test_broken_answers_to_a_v2_group_create_still_make_the_group(
    gcore_emulator: GcoreEmulator, kind: Any
) -> None:
    gcore_emulator.faults.add(kind, method="POST", times=1)
    with requests.Session() as session:
        session.headers.update(AUTH)
        url = f"{gcore_emulator.base_url}/cloud/v2/security_groups/1/1"
        try:
            response = session.post(url, json={"name": "made", "rules": []})
        except requests.exceptions.ChunkedEncodingError:
            assert kind == "commit_then_truncate"
        else:
            assert kind == "commit_then_html_200" and response.status_code == 200
    gcore_emulator.finish_tasks()
    assert [g["name"] for g in gcore_emulator.groups()] == ["made"]


# --------------------------------------------------------------------------------------
# spec strings (command line / environment)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("502", ("502", None, 1.0, "1", 0.0)),
        ("503:*:0.25", ("503", None, 0.25, "1", 0.0)),
        ("drop:post:1", ("drop", "POST", 1.0, "1", 0.0)),
        ("commit_then_drop:DELETE:0.5", ("commit_then_drop", "DELETE", 0.5, "1", 0.0)),
        ("429:GET:1:7", ("429", "GET", 1.0, "7", 0.0)),
        (
            "429:*:1:Wed, 21 Oct 2015 07:28:00 GMT",
            ("429", None, 1.0, "Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ),
        ("429:*:1:none", ("429", None, 1.0, None, 0.0)),
        ("slow:PUT:1:0.2", ("slow", "PUT", 1.0, "1", 0.2)),
        ("commit_then_502::", ("commit_then_502", None, 1.0, "1", 0.0)),
        ("html_404:GET", ("html_404", "GET", 1.0, "1", 0.0)),
        ("redirect:DELETE:1:301", ("redirect", "DELETE", 1.0, "1", 0.0)),
        ("redirect", ("redirect", None, 1.0, "1", 0.0)),
        (" 503 : patch : 0.5 ", ("503", "PATCH", 0.5, "1", 0.0)),
        ("503:Delete:1e-3", ("503", "DELETE", 0.001, "1", 0.0)),
        ("empty_404:put", ("empty_404", "PUT", 1.0, "1", 0.0)),
        ("429:*:0.1:0", ("429", None, 0.1, "0", 0.0)),
        ("429:*::NONE", ("429", None, 1.0, None, 0.0)),
        ("slow:*::2", ("slow", None, 1.0, "1", 2.0)),
        ("html_502:GET:1", ("html_502", "GET", 1.0, "1", 0.0)),
        ("commit_then_drop", ("commit_then_drop", None, 1.0, "1", 0.0)),
        ("commit_then_truncate:POST", ("commit_then_truncate", "POST", 1.0, "1", 0.0)),
        ("commit_then_html_200:patch:0.5", ("commit_then_html_200", "PATCH", 0.5, "1", 0.0)),
        # the README's examples
        ("503:POST:0.2", ("503", "POST", 0.2, "1", 0.0)),
        ("429:*:0.1:2", ("429", None, 0.1, "2", 0.0)),
    ],
)
def test_parse_fault_spec(spec: str, expected: tuple[Any, ...]) -> None:
    assert parse_fault_spec(spec) == expected


#: Specs that would never do anything (or not what they say), and what the refusal names.
USELESS_SPECS = [
    ("", "unknown fault kind ''"),
    ("teapot", "unknown fault kind 'teapot'"),
    ("SLOW:*:1:1", "unknown fault kind 'SLOW'"),
    ("503:PSOT", "unknown method 'PSOT'"),
    ("503:HEAD", "unknown method 'HEAD'"),
    ("drop:GET,POST", "unknown method 'GET,POST'"),
    ("502:GET:x", "probability 'x'"),
    ("502:GET:2", "probability '2'"),
    ("502:GET:0", "probability '0'"),
    ("502:GET:0.0", "probability '0.0'"),
    ("502:GET:-0.5", "probability '-0.5'"),
    ("502:GET:nan", "probability 'nan'"),
    ("502:GET:inf", "probability 'inf'"),
    ("502:GET:1:5", "kind 502 takes no PARAM"),
    ("html_404:*:1:5", "kind html_404 takes no PARAM"),
    ("commit_then_502:*:1:", "the PARAM after the last ':' is empty"),
    ("slow", "slow needs its delay"),
    ("slow:POST:0.5", "slow needs its delay"),
    ("slow:*:1:", "the delay of slow"),
    ("slow:*:1:0", "the delay of slow"),
    ("slow:*:1:soon", "the delay of slow"),
    ("slow:*:1:-1", "the delay of slow"),
    ("slow:*:1:inf", "the delay of slow"),
    ("429:*:1:", "the PARAM after the last ':' is empty"),
    ("429:*:1:soon", "the Retry-After of 429"),
    ("429:*:1:1.5", "the Retry-After of 429"),
    ("429:*:1:-1", "the Retry-After of 429"),
    ("redirect:*:1:", "the PARAM after the last ':' is empty"),
    ("redirect:*:1:200", "the status of redirect"),
    ("redirect:*:1:404", "the status of redirect"),
    ("redirect:*:1:x", "the status of redirect"),
    ("redirect:*:1:301:x", "the status of redirect"),
]


@pytest.mark.parametrize(("spec", "problem"), USELESS_SPECS)
def test_parse_fault_spec_refuses_specs_that_do_nothing(spec: str, problem: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_fault_spec(spec)
    message = str(refused.value)
    assert message.startswith(f"fault {spec!r}: ")
    assert problem in message
    assert "\n" not in message


@pytest.mark.parametrize(("spec", "problem"), USELESS_SPECS)
def test_add_spec_refuses_what_parse_fault_spec_refuses(spec: str, problem: str) -> None:
    injector = FaultInjector()
    with pytest.raises(ValueError, match=re.escape(problem)):
        injector.add_spec(spec)
    assert injector.decide("GET", "/cloud/v1/anything") is None


def test_add_refuses_a_method_the_emulator_does_not_serve() -> None:
    with pytest.raises(ValueError, match="unknown method 'PSOT'"):
        FaultInjector().add("503", method="PSOT")


def test_add_spec_with_lowercase_method_fires_on_that_method() -> None:
    injector = FaultInjector()
    injector.add_spec("503:delete")
    assert injector.decide("GET", "/x") is None
    fired = injector.decide("DELETE", "/x")
    assert fired is not None and fired.kind == "503"


def test_add_spec_slow_delay_and_429_http_date_reach_the_fault() -> None:
    injector = FaultInjector()
    injector.add_spec("slow:GET:1:0.25")
    injector.add_spec("429:POST:1:Wed, 21 Oct 2015 07:28:00 GMT")
    slow, limited = injector.decide("GET", "/x"), injector.decide("POST", "/x")
    assert slow is not None and slow.delay == 0.25
    assert limited is not None and limited.retry_after == "Wed, 21 Oct 2015 07:28:00 GMT"


def test_add_spec(api: Api, gcore_emulator: GcoreEmulator) -> None:
    gcore_emulator.faults.add_spec("429:GET:1:3")
    response = api.get()
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert api.create().status_code == 200


@pytest.mark.parametrize("status", ["301", "307"])
def test_add_spec_redirect_status(api: Api, gcore_emulator: GcoreEmulator, status: str) -> None:
    gcore_emulator.faults.add_spec(f"redirect:GET:1:{status}")
    assert api.session.get(api.group_url, allow_redirects=False).status_code == int(status)
