"""Issue 15.4: the deadline holds in every retry layer.

urllib3 retries a refused connection for POST too, with the timeouts of the first try. So
when connections are refused for most of ``gcore:deadline`` and then accepted, a POST must
still not be sent with less than one normal answer's time left (``MIN_ANSWER_SECONDS``, 1 s),
and the operation must end by the deadline. The stand-in answers the read before the POST,
then refuses connections (its port kept) until shortly before the deadline, and holds its
answer to the POST: every time asserted on is the stand-in's own record against an upper
bound of the provider's deadline, never a tight wall-clock limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gcore_pulumi import SecurityGroupProvider
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderProcess, ProviderRpcError

from ..standin import StandIn
from .conftest import Engine, clean_env, rule_inputs, stack_config

DEADLINE = 3.0
MIN_ANSWER = 1.0
"""client.MIN_ANSWER_SECONDS: a POST is sent only with this long left for its answer."""
SLACK = 0.5
"""How long after the deadline the operation may end: its last step and the gRPC answer
(today's bug ends it more than 1 s late here)."""
REFUSE_FOR = 2.0
"""Connections refused this long after the read that comes before the POST. urllib3's
connect retries (backoff 0.01 s doubling) try at about 0, 0.02, ..., 1.26 and 2.54 s, so
the last try before the deadline meets the listener again with about 0.45 s left."""
CONFIG = {
    "gcore:deadline": str(DEADLINE),
    "gcore:retryBackoff": "0.01",
    "gcore:maxRetries": "10",
    "gcore:connectTimeout": "0.5",
}


@pytest.fixture
def proxy(emulator: GcoreEmulator) -> Iterator[StandIn]:
    with StandIn(emulator.base_url) as standin:
        yield standin


def timed(call: Callable[[], Any]) -> tuple[Any, BaseException | None, float]:
    try:
        return call(), None, time.monotonic()
    except ProviderRpcError as error:
        return None, error, time.monotonic()


def check_deadline_held(proxy: StandIn, ended: float) -> None:
    # The operation started before the stand-in saw its first request (the read), so its
    # deadline is at most that request's arrival + gcore:deadline.
    first = proxy.requests()[0]
    assert first.method == "GET", proxy.requests()
    deadline = first.at + DEADLINE
    assert proxy.listening_again, "the stand-in never listened again"
    timeline = ", ".join(
        f"{s.method} {s.path[:60]} {s.at - first.at:.2f}s" for s in proxy.requests()
    )
    timeline += f"; listening again at {[round(t - first.at, 2) for t in proxy.listening_again]}"
    for post in proxy.requests("POST"):
        left = deadline - post.at
        assert left >= MIN_ANSWER, f"a POST was sent with {left:.2f}s left ({timeline})"
    assert ended <= deadline + SLACK, f"ended {ended - deadline:.2f}s after the deadline"


def start_refusing(proxy: StandIn) -> None:
    proxy.refuse_after("GET", "/securitygroups/", REFUSE_FOR)
    proxy.answer_late("POST", ".*", 1.5)


@pytest.mark.parametrize("rule_api", ["v1", "v2"], indirect=True)
def test_no_rule_post_after_refused_connections_with_too_little_time_left(
    engine: Engine, emulator: GcoreEmulator, group: str, proxy: StandIn, rule_api: str
) -> None:
    process = engine(**{"gcore:baseUrl": proxy.base_url, **CONFIG})
    checked = process.check(rule_inputs(group, protocol="tcp", port_range_min=22,
                                        port_range_max=22))  # fmt: skip
    start_refusing(proxy)
    created, error, ended = timed(lambda: process.create(checked.inputs))
    check_deadline_held(proxy, ended)
    live = [r["id"] for r in emulator.rules(group)]
    if error is None:  # the state and Gcore agree either way
        assert live == [created[0]]
    else:
        assert live == [] and "gcore:deadline" in str(error)


def test_no_group_post_after_refused_connections_with_too_little_time_left(
    emulator: GcoreEmulator, proxy: StandIn
) -> None:
    config = stack_config(emulator, **{"gcore:baseUrl": proxy.base_url, **CONFIG})
    with ProviderProcess(SecurityGroupProvider(), env=clean_env()) as process:
        process.configure(config, secret_keys=["gcore:apiKey"])
        checked = process.check({"name": "web"})
        start_refusing(proxy)
        created, error, ended = timed(lambda: process.create(checked.inputs))
    check_deadline_held(proxy, ended)
    if error is None:
        assert [g["id"] for g in emulator.groups()] == [created[0]]
    else:
        assert "gcore:deadline" in str(error)


@pytest.mark.parametrize("rule_api", ["v1", "v2"], indirect=True)
def test_a_post_after_refused_connections_with_time_left_is_sent_once(
    engine: Engine, emulator: GcoreEmulator, group: str, proxy: StandIn, rule_api: str
) -> None:
    # Refused connections for a short while, well inside the deadline: the create still
    # goes through, once.
    process = engine(**{"gcore:baseUrl": proxy.base_url, **CONFIG, "gcore:deadline": "10"})
    checked = process.check(rule_inputs(group, protocol="udp"))
    proxy.refuse_after("GET", "/securitygroups/", 0.3)
    rule_id, _ = process.create(checked.inputs)
    assert proxy.listening_again
    assert len(proxy.requests("POST")) == 1
    assert [r["id"] for r in emulator.rules(group)] == [rule_id]


def test_a_create_that_runs_out_of_time_says_failed_once(
    engine: Engine, emulator: GcoreEmulator, group: str
) -> None:
    # The POST's answer comes after gcore:deadline: the error names the request once
    # ("POST ... failed: gave up: ..."), not "POST ... failed: POST ... failed: gave up".
    process = engine(**{"gcore:deadline": "1", "gcore:timeout": "0.5"})
    checked = process.check(rule_inputs(group, protocol="tcp", port_range_min=22))
    emulator.faults.add("slow", method="POST", delay=3, times=1)
    with pytest.raises(ProviderRpcError) as caught:
        process.create(checked.inputs)
    line = caught.value.details.strip().splitlines()[-1]
    assert line.count("failed:") == 1, line
    assert "An earlier try may have created the rule" in line
