"""The client's group and task calls against the emulator: the poll schedule in practice,
a task that 404s, the deadline, paging, and the PATCH that must never carry rules."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from gcore_pulumi.client import GcoreClient
from gcore_pulumi.errors import NotFoundError, RateLimitError, ServerError, TransportError
from gcore_pulumi.group_schema import canonical_group_state
from gcore_pulumi.models import GroupSpec
from gcore_pulumi.schema import Defaults
from gcore_pulumi.settings import Settings
from gcore_pulumi.tasks import TaskFailedError, TaskPendingError
from gcore_pulumi.testing import GcoreEmulator

KEY = "group-client-key-3c9a"
TASKS = "/cloud/v1/tasks/"
V2 = "/cloud/v2/security_groups/1/1"


@pytest.fixture
def api() -> Iterator[GcoreEmulator]:
    with GcoreEmulator(api_key=KEY, seed=11) as emulator:
        yield emulator


def make_client(api: GcoreEmulator, **overrides: object) -> GcoreClient:
    values: dict[str, object] = {"api_key": KEY, "base_url": api.base_url,
                                 "retry_backoff": 0.01, "timeout": 2.0}  # fmt: skip
    values.update(overrides)
    return GcoreClient(Settings(**values))  # type: ignore[arg-type]


@pytest.fixture
def client(api: GcoreEmulator) -> Iterator[GcoreClient]:
    made = make_client(api)
    yield made
    made.close()


def spec(name: str = "web", **props: object) -> GroupSpec:
    return GroupSpec.from_state(canonical_group_state({"name": name, **props}, Defaults(1, 1)))


def test_a_one_second_task_takes_at_most_ten_polls(api: GcoreEmulator, client: GcoreClient) -> None:
    api.task_delays["create_security_group"] = 1.0
    created = client.create_group(spec())
    assert created.how == "created"
    assert 1 <= api.count("GET", TASKS) <= 10


def test_long_task_is_noticed_once(api: GcoreEmulator, caplog: pytest.LogCaptureFixture) -> None:
    api.task_delays["create_security_group"] = 0.6
    client = make_client(api, task_notice_after=0.2, task_poll_max=0.1)
    with caplog.at_level(logging.WARNING, logger="gcore_pulumi"):
        client.create_group(spec())
    assert api.count("GET", TASKS) >= 5  # the small cap made it poll often
    notices = [r.getMessage() for r in caplog.records if "still" in r.getMessage()]
    assert len(notices) == 1


def test_polling_an_unknown_task_is_an_error(client: GcoreClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.wait_for_task("0b0e7c2e-1111-4222-8333-944455556666")
    assert "/cloud/v1/tasks/0b0e7c2e-1111-4222-8333-944455556666" in str(caught.value)


def test_task_poll_is_retried_like_any_get(api: GcoreEmulator, client: GcoreClient) -> None:
    api.faults.add("503", method="GET", path_prefix=TASKS, times=2)
    created = client.create_group(spec())
    assert created.group.name == "web"


def test_failed_task_raises_with_gcore_reason(api: GcoreEmulator, client: GcoreClient) -> None:
    api.fail_tasks("create_security_group", error="Name is reserved")
    with pytest.raises(TaskFailedError, match="Name is reserved"):
        client.create_group(spec())


def test_deadline_bounds_the_wait_on_a_task(api: GcoreEmulator) -> None:
    api.task_delays["create_security_group"] = 3.0
    client = make_client(api, deadline=0.5, timeout=0.2)  # a 0.2 s answer window
    with pytest.raises(TaskPendingError, match="gcore:deadline"):
        client.create_group(spec())
    assert api.count("GET", TASKS) <= 6


def test_nothing_is_sent_once_the_deadline_has_passed(api: GcoreEmulator) -> None:
    client = make_client(api, deadline=0.05)
    with client._operation():
        time.sleep(0.1)
        with pytest.raises(TransportError, match="not sent"):
            client._send("POST", V2, {"name": "web", "rules": []})
    assert api.requests == []


def test_retry_after_past_the_deadline_stops_the_post_at_once(api: GcoreEmulator) -> None:
    api.faults.add("429", method="POST", path_prefix=V2, times=5, retry_after="5")
    client = make_client(api, deadline=1.0, timeout=0.3)
    with pytest.raises(TransportError, match="Retry-After"):
        client.create_group(spec())
    assert api.count("POST", V2) == 1 and api.groups() == []


def test_rate_limit_budget_spent_is_a_rate_limit_error(api: GcoreEmulator) -> None:
    api.faults.add("429", method="POST", path_prefix=V2, times=10, retry_after="0")
    client = make_client(api, max_retries=2)
    with pytest.raises(RateLimitError):
        client.create_group(spec())
    assert api.count("POST", V2) == 3 and api.groups() == []


def test_patch_is_resent_after_a_lost_answer_and_never_carries_rules(
    api: GcoreEmulator, client: GcoreClient
) -> None:
    group = client.create_group(spec()).group
    api.add_rule(group.id, direction="egress")
    api.faults.add("commit_then_drop", method="PATCH", times=1)
    updated = client.update_group(1, 1, group.id, {"name": "api", "tags": {"a": "b"}})
    assert updated.name == "api" and len(updated.security_group_rules) == 1
    patches = [r.body for r in api.requests if r.method == "PATCH"]
    assert len(patches) == 2 and all("rules" not in body for body in patches)


def test_empty_patch_sends_nothing_but_reads(api: GcoreEmulator, client: GcoreClient) -> None:
    group = client.create_group(spec()).group
    api.clear_log()
    assert client.update_group(1, 1, group.id, {}).id == group.id
    assert [r.method for r in api.requests] == ["GET"]


def test_list_reads_every_page_and_filters_by_exact_name(api: GcoreEmulator) -> None:
    for i in range(1003):
        api.create_group(name="many" if i % 2 else f"other-{i}")
    client = make_client(api)
    assert len(client.list_groups(1, 1)) == 1003
    assert len(client.list_groups(1, 1, "many")) == 501
    assert client.list_groups(1, 1, "man") == []


def test_ambiguous_failures_that_made_nothing_end_saying_so(api: GcoreEmulator) -> None:
    api.faults.add("502", method="POST", path_prefix=V2, times=10)
    client = make_client(api, max_retries=2)
    with pytest.raises(ServerError) as caught:
        client.create_group(spec())
    assert "No group was made (checked)" in str(caught.value)
    assert api.count("POST", V2) == 3 and api.groups() == []


def test_last_allowed_try_that_made_the_group_is_still_adopted(api: GcoreEmulator) -> None:
    api.faults.add("commit_then_drop", method="POST", path_prefix=V2, times=1)
    client = make_client(api, max_retries=0)
    created = client.create_group(spec())
    assert created.how == "reconciled"
    assert [g["id"] for g in api.groups()] == [created.group.id]
