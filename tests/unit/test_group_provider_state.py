"""The group provider in every group's state: tiny, by reference to the public name, secret-free."""

from __future__ import annotations

import base64

import dill
import pulumi.dynamic
from pulumi.dynamic.dynamic import serialize_provider

from gcore_pulumi import SecurityGroupProvider


class _Config:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, key: str) -> str | None:
        return self.values.get(key)


def test_pickled_by_reference_to_the_public_name() -> None:
    blob = base64.b64decode(serialize_provider(SecurityGroupProvider()))
    assert b"gcore_pulumi" in blob and b"SecurityGroupProvider" in blob
    assert b"gcore_pulumi.group_provider" not in blob
    assert isinstance(dill.loads(blob), SecurityGroupProvider)


def test_configured_provider_still_pickles_to_nothing_but_the_class() -> None:
    provider = SecurityGroupProvider()
    before = serialize_provider(provider)
    request = pulumi.dynamic.ConfigureRequest(
        _Config({"gcore:apiKey": "k-secret-999", "gcore:projectId": "4"})  # type: ignore[arg-type]
    )
    provider.configure(request)
    provider.check({}, {"name": "web"})
    after = serialize_provider(provider)
    assert after == before
    assert len(after) <= 200
    assert b"k-secret-999" not in base64.b64decode(after)
