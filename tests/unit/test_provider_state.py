"""The provider object that goes into every resource's state: tiny, by reference, secret-free."""

from __future__ import annotations

import base64

import dill
import pulumi.dynamic
from pulumi.dynamic.dynamic import serialize_provider

from gcore_pulumi import SecurityGroupRuleProvider


class _Config:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, key: str) -> str | None:
        return self.values.get(key)


def test_pickled_by_reference_to_the_public_name() -> None:
    blob = base64.b64decode(serialize_provider(SecurityGroupRuleProvider()))
    assert b"gcore_pulumi" in blob and b"SecurityGroupRuleProvider" in blob
    assert b"gcore_pulumi.provider" not in blob  # internal module moves cannot break stacks
    assert isinstance(dill.loads(blob), SecurityGroupRuleProvider)


def test_configured_provider_still_pickles_to_nothing_but_the_class() -> None:
    provider = SecurityGroupRuleProvider()
    before = serialize_provider(provider)
    request = pulumi.dynamic.ConfigureRequest(
        _Config({"gcore:apiKey": "k-secret-999", "gcore:projectId": "4"})  # type: ignore[arg-type]
    )
    provider.configure(request)
    after = serialize_provider(provider)
    assert after == before
    assert len(after) <= 200
    assert b"k-secret-999" not in base64.b64decode(after)
