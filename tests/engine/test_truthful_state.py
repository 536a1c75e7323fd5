"""The stack tells the truth: no rule reported gone, deleted, adopted or created when it is not.

Every test drives the provider process over gRPC as the engine does, against the emulator
(Gcore) or the stand-in proxy in front of it (what is not Gcore), and checks Gcore's side
afterwards: the state and the firewall must agree.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderRpcError

from ..standin import HTML_404, StandIn
from .conftest import RULE_APIS, Engine, rule_inputs

SSH = {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22}


@pytest.fixture
def proxy(emulator: GcoreEmulator) -> Iterator[StandIn]:
    with StandIn(emulator.base_url) as standin:
        yield standin


def via(proxy: StandIn, **extra: str) -> dict[str, str]:
    return {"gcore:baseUrl": proxy.base_url, **extra}


def create(engine: Engine, inputs: dict[str, Any], **config: str) -> tuple[str, dict[str, Any]]:
    process = engine(**config)
    checked = process.check(inputs)
    assert checked.failures == []
    return process.create(checked.inputs)


def error_of(call: Any, *args: Any) -> str:
    with pytest.raises(ProviderRpcError) as caught:
        call(*args)
    return caught.value.details.strip().splitlines()[-1]


# --- 1. only Gcore can say "gone" ---------------------------------------------------------

NOT_GCORE_404S = {
    "html": (HTML_404, {"Content-Type": "text/html"}),
    "empty": (b"", {}),
    "json-without-exception_class": (
        b'{"detail": "Not Found"}',
        {"Content-Type": "application/json"},
    ),
}


@pytest.mark.parametrize("shape", sorted(NOT_GCORE_404S))
def test_refresh_keeps_the_rule_when_a_404_is_not_gcores(
    engine: Engine, emulator: GcoreEmulator, group: str, proxy: StandIn, shape: str
) -> None:
    rule_id, outputs = create(engine, rule_inputs(group, **SSH))
    body, headers = NOT_GCORE_404S[shape]
    proxy.answer("GET", "/securitygroups/", 404, body, headers)
    refresh = engine(**via(proxy))
    message = error_of(refresh.read, rule_id, outputs, None)
    assert "gcore:baseUrl" in message
    assert [r["id"] for r in emulator.rules(group)] == [rule_id]


@RULE_APIS
@pytest.mark.parametrize("shape", sorted(NOT_GCORE_404S))
def test_destroy_fails_when_a_404_is_not_gcores(
    engine: Engine, emulator: GcoreEmulator, group: str, proxy: StandIn, shape: str
) -> None:
    rule_id, outputs = create(engine, rule_inputs(group, **SSH))
    body, headers = NOT_GCORE_404S[shape]
    proxy.answer("DELETE", ".*", 404, body, headers)
    message = error_of(engine(**via(proxy)).delete, rule_id, outputs)
    assert "gcore:baseUrl" in message
    assert [r["id"] for r in emulator.rules(group)] == [rule_id]  # still open: not "deleted"


def test_gcores_own_404_still_means_gone(
    engine: Engine, emulator: GcoreEmulator, group: str, proxy: StandIn
) -> None:
    rule_id, outputs = create(engine, rule_inputs(group, **SSH))
    emulator.remove_rule(rule_id)
    assert engine(**via(proxy)).read(rule_id, outputs, None).id == ""
    engine(**via(proxy)).delete(rule_id, outputs)  # Gcore's 404 on DELETE: already gone


@pytest.mark.parametrize("suffix", ["?region=2", "#fragment", "/?"])
def test_base_url_with_query_or_fragment_is_refused_naming_the_setting(
    engine: Engine, emulator: GcoreEmulator, group: str, suffix: str
) -> None:
    rule_id, outputs = create(engine, rule_inputs(group, **SSH))
    bad = engine(**{"gcore:baseUrl": emulator.base_url + suffix})
    for call, args in ((bad.read, (rule_id, outputs, None)), (bad.delete, (rule_id, outputs))):
        assert "gcore:baseUrl" in error_of(call, *args)
    assert [r["id"] for r in emulator.rules(group)] == [rule_id]


# --- 2. only a 2xx is success ---------------------------------------------------------


@RULE_APIS
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirected_delete_is_not_a_delete(
    engine: Engine, emulator: GcoreEmulator, group: str, proxy: StandIn, status: int
) -> None:
    rule_id, outputs = create(engine, rule_inputs(group, **SSH))
    proxy.answer("DELETE", ".*", status, b"", {"Location": "https://elsewhere.example/x"})
    message = error_of(engine(**via(proxy)).delete, rule_id, outputs)
    assert "gcore:baseUrl" in message and str(status) in message and "redirect" in message
    assert [r["id"] for r in emulator.rules(group)] == [rule_id]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_redirect_on_read_or_create_is_an_error(
    engine: Engine, emulator: GcoreEmulator, group: str, proxy: StandIn, method: str
) -> None:
    rule_id, outputs = create(engine, rule_inputs(group, **SSH))
    proxy.answer(method, ".*", 308, b"", {"Location": "https://elsewhere.example/"})
    process = engine(**via(proxy))
    if method == "GET":
        message = error_of(process.read, rule_id, outputs, None)
    else:
        inputs = process.check(rule_inputs(group, protocol="udp", port_range_min=53,
                                           port_range_max=53)).inputs  # fmt: skip
        message = error_of(process.create, inputs)
    assert "gcore:baseUrl" in message
    assert len(emulator.rules(group)) == 1


# --- 3. never adopt what was there before ---------------------------------------------


@RULE_APIS
@pytest.mark.parametrize("fault", ["503", "502", "drop"])
def test_a_failed_post_never_adopts_someone_elses_identical_rule(
    engine: Engine, emulator: GcoreEmulator, group: str, fault: str
) -> None:
    foreign = emulator.add_rule(group, direction="ingress", description="made by hand", **SSH)
    emulator.faults.add(fault, method="POST", times=1)  # type: ignore[arg-type]
    process = engine()
    checked = process.check(rule_inputs(group, description="mine", **SSH))
    message = error_of(process.create, checked.inputs)
    assert foreign["id"] in message and "409" in message
    assert "adopt_existing" in message
    # nothing was adopted or changed, so destroy cannot delete the foreign rule
    assert emulator.rules(group) == [foreign]


@RULE_APIS
def test_a_409_on_a_retry_never_adopts_a_rule_that_was_there_before(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    foreign = emulator.add_rule(group, direction="ingress", **SSH)
    emulator.faults.add("503", method="POST", times=1)
    # the group read after the 503 fails too, so the retry POST meets Gcore's 409
    emulator.faults.add("503", method="GET", schedule=range(2, 8))
    process = engine()
    message = error_of(process.create, process.check(rule_inputs(group, **SSH)).inputs)
    assert foreign["id"] in message
    assert emulator.rules(group) == [foreign]


@RULE_APIS
@pytest.mark.parametrize("fault", ["commit_then_502", "commit_then_drop"])
def test_a_rule_our_own_lost_post_made_is_adopted_once(
    engine: Engine, emulator: GcoreEmulator, group: str, fault: str
) -> None:
    emulator.faults.add(fault, method="POST", times=1)  # type: ignore[arg-type]
    rule_id, _ = create(engine, rule_inputs(group, **SSH))
    assert [r["id"] for r in emulator.rules(group)] == [rule_id]


@RULE_APIS
def test_adopt_existing_may_take_a_rule_that_was_there_before_after_a_failure(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    foreign = emulator.add_rule(group, direction="ingress", **SSH)
    emulator.faults.add("503", method="GET", times=1)  # the adopt_existing look fails once
    rule_id, _ = create(engine, rule_inputs(group, adopt_existing=True, **SSH))
    assert rule_id == foreign["id"] and len(emulator.rules(group)) == 1


def test_concurrent_creates_share_one_snapshot(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    process = engine()
    inputs = [
        process.check(rule_inputs(group, protocol="tcp", port_range_min=p, port_range_max=p))
        for p in range(1000, 1012)
    ]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda c: process.create(c.inputs), inputs))
    assert len(emulator.rules(group)) == 12
    assert emulator.count("GET") <= 2  # one snapshot shared (two if a window ran out)


# --- 4. nothing is sent after giving up ---------------------------------------------------


@RULE_APIS
def test_no_post_is_sent_once_the_deadline_cannot_cover_an_answer(
    engine: Engine, emulator: GcoreEmulator, group: str, proxy: StandIn
) -> None:
    # Every POST is answered 503 after 0.25 s by something in front of Gcore.
    proxy.answer("POST", ".*", 503, b"", delay=0.25)
    deadline, answer_window = 1.0, 0.3
    process = engine(**via(proxy, **{"gcore:deadline": str(deadline),
                                     "gcore:timeout": str(answer_window)}))  # fmt: skip
    checked = process.check(rule_inputs(group, **SSH))
    started = time.monotonic()
    message = error_of(process.create, checked.inputs)
    finished = time.monotonic()
    posts = proxy.requests("POST")
    assert len(posts) >= 2, "the first POST and at least one retry are sent"
    # No POST was abandoned to a hopeless timeout: the provider was still waiting when the
    # answer to its last POST came (0.25 s after it arrived), so it never gave up on a POST
    # that could still commit.
    assert posts[-1].at + 0.25 <= finished
    assert "may have created" in message  # a 503 is ambiguous: it says so
    assert finished - started < deadline + 1.0


def test_a_deadline_that_passed_before_any_post_says_nothing_was_created(
    engine: Engine, emulator: GcoreEmulator, group: str, proxy: StandIn
) -> None:
    proxy.answer("GET", ".*", 503, b"", delay=0.3)  # the snapshot read eats the deadline
    process = engine(**via(proxy, **{"gcore:deadline": "0.5", "gcore:timeout": "0.4"}))
    message = error_of(process.create, process.check(rule_inputs(group, **SSH)).inputs)
    assert proxy.requests("POST") == []
    assert "may have created" not in message
    assert emulator.rules(group) == []


# --- 6. diff uses the same defaults as refresh and delete ----------------------------------


def test_state_without_project_and_region_plans_no_change(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    rule_id, outputs = create(engine, rule_inputs(group, **SSH))
    old = {k: v for k, v in outputs.items() if k not in ("project_id", "region_id")}
    preview = engine()
    assert preview.diff(rule_id, old, preview.check(rule_inputs(group, **SSH)).inputs).changes == (
        "none"
    )


def test_create_never_adopts_the_rule_being_replaced(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    rule_id, outputs = create(engine, rule_inputs(group, description="old", **SSH))
    process = engine()
    news = process.check(rule_inputs(group, description="new", adopt_existing=True, **SSH))
    diff = process.diff(rule_id, outputs, news.inputs)
    assert diff.changes == "some" and diff.delete_before_replace
    # even if the engine created the replacement before deleting the old rule:
    message = error_of(process.create, news.inputs)
    assert rule_id in message
    assert [r["id"] for r in emulator.rules(group)] == [rule_id]


# --- 7. preview catches what up would reject, and never crashes ----------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("port_range_min", "²"),
        ("port_range_max", "٣"),
        ("project_id", "\uff11"),  # FULLWIDTH DIGIT ONE
        ("remote_group_id", "00000000-0000-1000-8000-000000000000"),
        ("remote_ip_prefix", "fe80::1%eth0"),
    ],
)
def test_check_refuses_what_gcore_would_without_quoting_the_value(
    engine: Engine, group: str, key: str, value: str
) -> None:
    inputs = rule_inputs(group, protocol="tcp", port_range_min=22, port_range_max=22)
    inputs[key] = value
    failures = dict(engine().check(inputs).failures)
    assert key in failures
    assert value not in failures[key]


# --- 8. robust to odd answers ---------------------------------------------------------


BROKEN_RETRY_AFTER = ["1.5", "-1", "soon", "", "Wed, 99 Foo 2026"]


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_a_broken_retry_after_falls_back_to_the_backoff(
    engine: Engine, emulator: GcoreEmulator, group: str, proxy: StandIn, method: str
) -> None:
    process = engine(**via(proxy))
    for port, retry_after in enumerate(BROKEN_RETRY_AFTER, start=1000):
        inputs = process.check(rule_inputs(group, protocol="tcp", port_range_min=port,
                                           port_range_max=port)).inputs  # fmt: skip
        if method == "POST":
            proxy.answer("POST", ".*", 429, b"", {"Retry-After": retry_after}, times=1)
        rule_id, outputs = process.create(inputs)
        assert rule_id in {r["id"] for r in emulator.rules(group)}
        if method == "GET":
            proxy.answer("GET", ".*", 429, b"", {"Retry-After": retry_after}, times=1)
            assert process.read(rule_id, outputs, None).id == rule_id
        if method == "DELETE":
            proxy.answer("DELETE", ".*", 429, b"", {"Retry-After": retry_after}, times=1)
            process.delete(rule_id, outputs)
            assert rule_id not in {r["id"] for r in emulator.rules(group)}
    assert len(proxy.requests()) > len(BROKEN_RETRY_AFTER) * 2  # every 429 was met and retried


@pytest.mark.parametrize("key", ["s3cr3t\nX-Injected: 1", "s3cr3t\r", "s3c\x00r3t", "s3cr3t\n"])
def test_an_api_key_with_a_control_character_is_refused_before_sending(
    engine: Engine, emulator: GcoreEmulator, group: str, key: str
) -> None:
    process = engine(**{"gcore:apiKey": key})
    message = error_of(process.create, process.check(rule_inputs(group, **SSH)).inputs)
    assert "gcore:apiKey" in message and "may have created" not in message
    assert key.strip() not in message
    assert emulator.requests == []


# --- 9. the read window is per reader -------------------------------------------------


def test_a_rule_read_twice_is_read_from_the_api_again(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    a_id, a_out = create(engine, rule_inputs(group, **SSH))
    b_id, b_out = create(engine, rule_inputs(group, protocol="udp", port_range_min=53,
                                             port_range_max=53))  # fmt: skip
    process = engine(**{"gcore:readCacheSeconds": "600"})
    assert process.read(a_id, a_out, None).id == a_id
    assert process.read(b_id, b_out, None).id == b_id
    assert process.read(b_id, b_out, None).id == b_id  # a later answer, fetched for B
    emulator.remove_rule(a_id)
    assert process.read(a_id, a_out, None).id == ""  # not served B's answer


# --- 10. one rule, one owner --------------------------------------------------------------


@RULE_APIS
@pytest.mark.parametrize("adopt", [False, True])
def test_the_same_rule_declared_twice_fails_and_is_never_owned_twice(
    engine: Engine, emulator: GcoreEmulator, group: str, adopt: bool
) -> None:
    process = engine()
    first = process.check(rule_inputs(group, description="one", **SSH))
    rule_id, _ = process.create(first.inputs)
    second = process.check(rule_inputs(group, description="two", adopt_existing=adopt, **SSH))
    message = error_of(process.create, second.inputs)
    assert rule_id in message and "declared twice" in message
    assert "adopt_existing" not in message  # suggested only for rules made outside Pulumi
    assert [r["id"] for r in emulator.rules(group)] == [rule_id]


def test_a_rule_made_outside_pulumi_suggests_adopt_existing(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    foreign = emulator.add_rule(group, direction="ingress", **SSH)
    process = engine()
    message = error_of(process.create, process.check(rule_inputs(group, **SSH)).inputs)
    assert foreign["id"] in message and "adopt_existing=True" in message
    assert "declared twice" not in message


# --- 5. canonical like the backend, through the engine ------------------------------------


@RULE_APIS
def test_icmp_with_ipv6_is_stored_and_planned_as_ipv6_icmp(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    program = rule_inputs(group, protocol="icmp", ethertype="IPv6", port_range_min=128)
    process = engine()
    checked = process.check(program)
    assert checked.failures == [] and checked.inputs["protocol"] == "ipv6-icmp"
    rule_id, outputs = process.create(checked.inputs)
    assert [r["protocol"] for r in emulator.rules(group)] == ["ipv6-icmp"]
    # the next preview of the unchanged program, and one over state written as "icmp"
    preview = engine()
    news = preview.check(program).inputs
    assert preview.diff(rule_id, outputs, news).changes == "none"
    assert preview.diff(rule_id, {**outputs, "protocol": "icmp"}, news).changes == "none"
    read = preview.read(rule_id, outputs, None)
    assert read.outputs["protocol"] == "ipv6-icmp"


def test_an_ipv4_mapped_prefix_in_gcores_spelling_is_adopted_and_never_diffs(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    foreign = emulator.add_rule(group, direction="ingress", ethertype="IPv6",
                                remote_ip_prefix="::ffff:10.0.0.1", **SSH)  # fmt: skip
    program = rule_inputs(group, remote_ip_prefix="::ffff:a00:1/128", adopt_existing=True, **SSH)
    process = engine()
    rule_id, outputs = process.create(process.check(program).inputs)
    assert rule_id == foreign["id"]
    assert outputs["remote_ip_prefix"] == "::ffff:10.0.0.1/128"
    old = {**outputs, "remote_ip_prefix": "::ffff:a00:1/128"}  # as Python < 3.13 printed it
    preview = engine()
    assert preview.diff(rule_id, old, preview.check(program).inputs).changes == "none"
