"""The HTTP client against the emulator: retries, Retry-After, deadlines, and the create
reconciliation that keeps a non-idempotent POST from duplicating or losing a rule."""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from gcore_pulumi.client import USER_AGENT, GcoreClient
from gcore_pulumi.errors import (
    ApiError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    ServerError,
    TransportError,
)
from gcore_pulumi.models import RuleSpec
from gcore_pulumi.settings import Settings
from gcore_pulumi.testing import GcoreEmulator

KEY = "client-test-key-5d1e"


@pytest.fixture
def api() -> Iterator[GcoreEmulator]:
    with GcoreEmulator(api_key=KEY, seed=7) as emulator:
        yield emulator


@pytest.fixture
def group(api: GcoreEmulator) -> str:
    return api.create_group(project_id=1, region_id=1)


def make_client(api: GcoreEmulator, **overrides: object) -> GcoreClient:
    values: dict[str, object] = {
        "api_key": KEY,
        "base_url": api.base_url,
        "retry_backoff": 0.01,
        "timeout": 2.0,
    }
    values.update(overrides)
    return GcoreClient(Settings(**values))  # type: ignore[arg-type]


@pytest.fixture
def client(api: GcoreEmulator) -> Iterator[GcoreClient]:
    c = make_client(api)
    yield c
    c.close()


def spec(group: str, **fields: object) -> RuleSpec:
    values: dict[str, object] = {
        "group_id": group,
        "direction": "ingress",
        "protocol": "tcp",
        "port_range_min": 22,
        "port_range_max": 22,
        "remote_ip_prefix": "10.0.0.0/8",
        "project_id": 1,
        "region_id": 1,
    }
    values.update(fields)
    return RuleSpec.model_validate(values)


def posts(api: GcoreEmulator) -> int:
    return api.count("POST")


# --- plain behaviour ------------------------------------------------------------------


def test_create_sends_key_and_user_agent(
    api: GcoreEmulator, client: GcoreClient, group: str
) -> None:
    created = client.create_rule(spec(group))
    assert created.how == "created"
    record = api.requests[-1]
    assert record.headers["Authorization"] == "APIKey ***"  # redacted in the log
    assert record.headers["User-Agent"] == USER_AGENT
    assert "gcore-pulumi/" in USER_AGENT
    assert [r["id"] for r in api.rules(group)] == [created.rule.id]


def test_wrong_key_is_an_authentication_error_without_the_key(
    api: GcoreEmulator, group: str
) -> None:
    client = make_client(api, api_key="not-the-key-77")
    with pytest.raises(AuthenticationError) as caught:
        client.create_rule(spec(group))
    assert "not-the-key-77" not in str(caught.value)
    assert "401" in str(caught.value) and "/cloud/v1/securitygroups/1/1/" in str(caught.value)
    client.close()


def test_missing_group_on_create_is_not_found(client: GcoreClient) -> None:
    with pytest.raises(NotFoundError):
        client.create_rule(spec("00000000-0000-4000-8000-000000000000"))


def test_delete_of_a_gone_rule_is_false_not_an_error(
    api: GcoreEmulator, client: GcoreClient, group: str
) -> None:
    rule = client.create_rule(spec(group)).rule
    assert client.delete_rule(1, 1, group, rule.id) is True
    assert client.delete_rule(1, 1, group, rule.id) is False


def test_find_rule_none_when_group_gone(
    api: GcoreEmulator, client: GcoreClient, group: str
) -> None:
    rule = client.create_rule(spec(group)).rule
    api.delete_group(group)
    assert client.find_rule(1, 1, group, rule.id) is None


def test_connections_are_reused(api: GcoreEmulator, client: GcoreClient, group: str) -> None:
    for port in range(1000, 1010):
        client.create_rule(spec(group, port_range_min=port, port_range_max=port))
    assert api.connections_accepted <= 2


# --- retries of GET and DELETE ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["429", "502", "503", "drop"])
def test_get_is_retried(api: GcoreEmulator, client: GcoreClient, group: str, kind: str) -> None:
    rule = client.create_rule(spec(group)).rule
    api.faults.add(kind, method="GET", times=2, retry_after="0")  # type: ignore[arg-type]
    assert client.get_group(1, 1, group) is not None
    assert api.faults.injected[kind] == 2
    assert client.find_rule(1, 1, group, rule.id) is not None


@pytest.mark.parametrize("kind", ["429", "503", "commit_then_502", "commit_then_drop"])
def test_delete_converges(api: GcoreEmulator, client: GcoreClient, group: str, kind: str) -> None:
    rule = client.create_rule(spec(group)).rule
    api.faults.add(kind, method="DELETE", times=1, retry_after="0")  # type: ignore[arg-type]
    client.delete_rule(1, 1, group, rule.id)
    assert api.rules(group) == []


def test_retry_after_seconds_is_honoured(
    api: GcoreEmulator, client: GcoreClient, group: str
) -> None:
    api.faults.add("429", method="GET", times=1, retry_after="1")
    started = time.monotonic()
    client.get_group(1, 1, group)
    assert time.monotonic() - started >= 0.9


def test_retry_after_http_date_is_honoured(
    api: GcoreEmulator, client: GcoreClient, group: str
) -> None:
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    api.faults.add("429", method="GET", times=1, retry_after=when)
    started = time.monotonic()
    client.get_group(1, 1, group)
    assert time.monotonic() - started >= 0.5


def test_retries_run_out_with_a_clear_error(api: GcoreEmulator, group: str) -> None:
    client = make_client(api, max_retries=2)
    api.faults.add("503", method="GET")
    with pytest.raises(ServerError) as caught:
        client.get_group(1, 1, group)
    assert "503 on GET /cloud/v1/securitygroups/1/1/" in str(caught.value)
    assert api.count("GET") == 3
    client.close()


def test_deadline_bounds_the_whole_operation(api: GcoreEmulator, group: str) -> None:
    client = make_client(api, max_retries=50, deadline=1.0, retry_backoff=0.2)
    api.faults.add("503", method="GET")
    started = time.monotonic()
    with pytest.raises(TransportError, match="deadline"):
        client.get_group(1, 1, group)
    assert time.monotonic() - started < 5
    client.close()


def test_slow_answer_hits_the_read_timeout_then_succeeds(api: GcoreEmulator, group: str) -> None:
    client = make_client(api, timeout=0.3)
    api.faults.add("slow", method="GET", times=1, delay=1.0)
    assert client.get_group(1, 1, group) is not None
    client.close()


def test_connection_refused_is_a_transport_error() -> None:
    client = GcoreClient(
        Settings(api_key=KEY, base_url="http://127.0.0.1:9", max_retries=1, retry_backoff=0.01)
    )
    with pytest.raises(TransportError, match="could not connect"):
        client.get_group(1, 1, "g")
    client.close()


# --- create: never a duplicate, never lost ------------------------------------------------


def test_create_429_is_retried_without_reading_again(
    api: GcoreEmulator, client: GcoreClient, group: str
) -> None:
    api.faults.add("429", method="POST", times=2, retry_after="0")
    client.create_rule(spec(group))
    assert posts(api) == 3
    assert api.count("GET") == 1  # only the snapshot taken before the first POST
    assert len(api.rules(group)) == 1


@pytest.mark.parametrize("kind", ["502", "503", "drop"])
def test_create_after_failure_that_did_nothing_posts_again(
    api: GcoreEmulator, client: GcoreClient, group: str, kind: str
) -> None:
    api.faults.add(kind, method="POST", times=1)  # type: ignore[arg-type]
    created = client.create_rule(spec(group))
    assert created.how == "created"
    assert len(api.rules(group)) == 1
    assert api.count("GET") >= 1  # it looked before posting again


@pytest.mark.parametrize("kind", ["commit_then_502", "commit_then_drop"])
def test_create_that_committed_is_adopted_not_duplicated(
    api: GcoreEmulator, client: GcoreClient, group: str, kind: str
) -> None:
    api.faults.add(kind, method="POST", times=1)  # type: ignore[arg-type]
    created = client.create_rule(spec(group))
    assert created.how == "reconciled"
    assert [r["id"] for r in api.rules(group)] == [created.rule.id]
    assert posts(api) == 1


def test_create_timeout_that_committed_is_adopted(api: GcoreEmulator, group: str) -> None:
    client = make_client(api, timeout=0.3)
    api.faults.add("slow", method="POST", times=1, delay=0.8)
    created = client.create_rule(spec(group))
    time.sleep(0.7)  # let the slow request finish on the server side
    assert created.how in ("reconciled", "created")
    assert len(api.rules(group)) == 1
    client.close()


def test_409_on_a_retry_after_ambiguous_failure_adopts(
    api: GcoreEmulator, client: GcoreClient, group: str
) -> None:
    # the first POST commits but answers 502; the reconciling GET fails too, so the retry
    # POST meets the rule the first one made: 409, which then proves the first try worked
    api.faults.add("commit_then_502", method="POST", times=1)
    api.faults.add("503", method="GET", schedule=range(2, 8))  # GET 1 is the snapshot
    created = client.create_rule(spec(group))
    assert created.how == "reconciled"
    assert len(api.rules(group)) == 1


def test_409_on_first_try_names_the_existing_rule(
    api: GcoreEmulator, client: GcoreClient, group: str
) -> None:
    existing = api.add_rule(group, **spec(group, description="by hand").request_body())
    with pytest.raises(ConflictError) as caught:
        client.create_rule(spec(group, description="mine"))
    text = str(caught.value)
    assert existing["id"] in text and "adopt_existing=True" in text
    assert "\n" not in text
    assert len(api.rules(group)) == 1


def test_adopt_existing_takes_the_match_without_posting(
    api: GcoreEmulator, client: GcoreClient, group: str
) -> None:
    existing = api.add_rule(group, **spec(group).request_body())
    created = client.create_rule(spec(group, adopt_existing=True))
    assert created.how == "adopted" and created.rule.id == existing["id"]
    assert posts(api) == 0


def test_adopt_existing_with_no_match_creates(
    api: GcoreEmulator, client: GcoreClient, group: str
) -> None:
    created = client.create_rule(spec(group, adopt_existing=True))
    assert created.how == "created"


def test_create_gives_up_after_the_budget(api: GcoreEmulator, group: str) -> None:
    client = make_client(api, max_retries=2)
    api.faults.add("503", method="POST")
    with pytest.raises((ServerError, TransportError)):
        client.create_rule(spec(group))
    assert posts(api) == 3
    assert api.rules(group) == []
    client.close()


def test_retries_are_logged_one_line_each_without_the_key(
    api: GcoreEmulator, client: GcoreClient, group: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gcore_pulumi")
    api.faults.add("commit_then_502", method="POST", times=1)
    api.faults.add("503", method="GET", times=1)
    client.create_rule(spec(group))
    lines = [r.getMessage() for r in caplog.records]
    assert any("502" in line and "POST" in line for line in lines)
    assert any("503" in line and "GET" in line for line in lines)
    assert any("adopting" in line for line in lines)
    assert all(KEY not in line and "\n" not in line for line in lines)


# --- concurrency and the group read cache ---------------------------------------------------


def test_concurrent_creates_and_reads_do_not_mix_up(
    api: GcoreEmulator, client: GcoreClient, group: str
) -> None:
    ports = list(range(2000, 2040))

    def create(port: int) -> tuple[int, str]:
        rule = client.create_rule(spec(group, port_range_min=port, port_range_max=port)).rule
        return port, rule.id

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(create, ports))
    live = {r["id"]: r["port_range_min"] for r in api.rules(group)}
    assert {rule_id: port for port, rule_id in results} == live

    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda pr: client.find_rule(1, 1, group, pr[1]), results))
    assert [f.port_range_min if f else None for f in found] == ports
    assert api.count("GET") <= 8  # coalesced


def test_no_stale_read_after_a_write(api: GcoreEmulator, client: GcoreClient, group: str) -> None:
    first = client.create_rule(spec(group)).rule
    assert client.find_rule(1, 1, group, first.id) is not None
    second = client.create_rule(spec(group, port_range_min=23, port_range_max=23)).rule
    assert client.find_rule(1, 1, group, second.id) is not None
    client.delete_rule(1, 1, group, first.id)
    assert client.find_rule(1, 1, group, first.id) is None


def test_threads_share_one_client_safely(
    api: GcoreEmulator, client: GcoreClient, group: str
) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            rule = client.create_rule(spec(group, port_range_min=3000 + n, port_range_max=3000 + n))
            client.delete_rule(1, 1, group, rule.rule.id)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert api.rules(group) == []


def test_create_when_nothing_listens_fails_fast_and_clearly() -> None:
    client = GcoreClient(
        Settings(api_key=KEY, base_url="http://127.0.0.1:9", max_retries=2, retry_backoff=0.01)
    )
    started = time.monotonic()
    with pytest.raises(TransportError, match="could not connect") as caught:
        client.create_rule(spec("024a29e9-b4b7-4c91-9a46-505be123d9f8"))
    assert time.monotonic() - started < 5
    assert caught.value.maybe_sent is False  # nothing reached a server: nothing to reconcile
    client.close()


def test_reconciling_reads_share_the_create_deadline(api: GcoreEmulator, group: str) -> None:
    client = make_client(api, max_retries=100, deadline=1.5, retry_backoff=0.05)
    api.faults.add("503", method="POST")
    api.faults.add("503", method="GET")
    started = time.monotonic()
    with pytest.raises(TransportError, match="deadline"):
        client.create_rule(spec(group))
    assert time.monotonic() - started < 6  # one deadline for the whole create, reads included
    client.close()


def test_an_answer_that_is_not_gcore_is_one_readable_error() -> None:
    import http.server

    class NotGcore(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html>hello</html>" if "html" in self.path else b'{"unexpected": true}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotGcore)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        for suffix, words in (("/html", "not JSON"), ("", "id: Field required")):
            client = GcoreClient(Settings(api_key=KEY, base_url=base + suffix))
            with pytest.raises(ApiError) as caught:
                client.get_group(1, 1, "g")
            assert words in str(caught.value) and "gcore:baseUrl" in str(caught.value)
            client.close()
    finally:
        server.shutdown()
        server.server_close()


def test_retry_after_beyond_the_deadline_fails_at_once_and_says_why(
    api: GcoreEmulator, group: str
) -> None:
    client = make_client(api, deadline=4.0)
    api.faults.add("429", method="POST", retry_after="100")
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        client.create_rule(spec(group))
    assert time.monotonic() - started < 2  # no point waiting for a retry that cannot happen
    text = str(caught.value)
    assert "Retry-After" in text and "gcore:deadline" in text
    assert "may have created" not in text  # a 429 creates nothing
    client.close()


def test_budget_spent_after_ambiguous_failures_says_the_rule_may_exist(
    api: GcoreEmulator, group: str
) -> None:
    client = make_client(api, max_retries=1)
    api.faults.add("commit_then_502", method="POST", times=1)
    api.faults.add("503", method="GET", schedule=range(2, 100))  # GET 1 is the snapshot
    api.faults.add("503", method="POST")
    with pytest.raises(ServerError) as caught:
        client.create_rule(spec(group))
    assert "may have created the rule" in str(caught.value)
    assert len(api.rules(group)) == 1  # it did: the next `up` will name it (409)
    client.close()


def test_netrc_cannot_replace_the_api_key_and_proxies_come_from_the_environment(
    api: GcoreEmulator, group: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password other-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    client = make_client(api)
    client.create_rule(spec(group))
    assert api.requests[-1].status == 200  # the APIKey header went out, not Basic auth
    client.close()

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    proxied = GcoreClient(Settings(api_key=KEY))
    assert proxied._session.proxies.get("https") == "http://proxy.example:3128"
    proxied.close()
