"""A TLS failure while READING the answer (a corrupted TLS record, a middlebox that breaks
the stream) reaches requests as the same ``SSLError`` as a failed handshake, although the
request was sent and may have committed. Only a refused certificate (during the handshake)
counts as "never sent"; anything else is settled like any ambiguous failure, so a committed
POST is adopted, not orphaned or made twice.

The session below plays that transport: it sends the request for real (Gcore commits) and
then fails the way urllib3 reports an SSL error during getresponse()."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from gcore_pulumi.client import GcoreClient
from gcore_pulumi.errors import GcoreError
from gcore_pulumi.models import GroupSpec, RuleSpec
from gcore_pulumi.settings import Settings
from gcore_pulumi.testing import GcoreEmulator


class SslBreaksAfterSending(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.armed = True

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        response = super().request(method, url, *args, **kwargs)
        if method == "POST" and self.armed:
            self.armed = False
            raise requests.exceptions.SSLError("[SSL: DECRYPTION_FAILED_OR_BAD_RECORD_MAC]")
        return response


def client_for(api: GcoreEmulator) -> GcoreClient:
    settings = Settings.load(
        lambda key: api.stack_config(1, 1, **{"gcore:retryBackoff": "0.01"}).get(key), env={}
    )
    return GcoreClient(settings, session=SslBreaksAfterSending())


def test_rule_post_committed_then_ssl_error_is_settled_not_orphaned() -> None:
    with GcoreEmulator(api_key="k") as api:
        group = api.create_group(project_id=1, region_id=1, name="web")
        client = client_for(api)
        spec = RuleSpec.from_props(
            {
                "group_id": group,
                "direction": "ingress",
                "protocol": "tcp",
                "port_range_min": 22,
                "port_range_max": 22,
                "project_id": 1,
                "region_id": 1,
            }
        )
        try:
            created = client.create_rule(spec)
        except GcoreError as error:
            # the rule exists; at the least the error must say it may
            assert len(api.rules(group)) == 1
            assert "may have created" in str(error), str(error)
        else:
            assert [r["id"] for r in api.rules(group)] == [created.rule.id]


def test_group_post_committed_then_ssl_error_leaves_no_unrecorded_group() -> None:
    with GcoreEmulator(api_key="k", task_delay=0.05) as api:
        client = client_for(api)
        spec = GroupSpec(name="web", project_id=1, region_id=1)
        try:
            created = client.create_group(spec)
        except GcoreError as error:
            api.finish_tasks()
            groups = [g["id"] for g in api.groups() if g["name"] == "web"]
            pytest.fail(f"create failed ({error}) and Gcore now holds unrecorded groups {groups}")
        else:
            assert [g["id"] for g in api.groups() if g["name"] == "web"] == [created.group.id]
