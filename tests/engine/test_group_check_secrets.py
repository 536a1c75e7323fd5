"""Check reasons never repeat the input's value (it may come from a secret): a tags map
built from a secret has neither its values nor its keys quoted."""

from __future__ import annotations

from gcore_pulumi import SecurityGroupProvider
from gcore_pulumi.testing.engine import ProviderProcess

from .conftest import clean_env


def test_tag_value_failures_do_not_quote_the_tag_key() -> None:
    secret_key = "customer-acme-corp-contract-7731"
    with ProviderProcess(SecurityGroupProvider(), env=clean_env()) as process:
        process.configure({"gcore:projectId": "1", "gcore:regionId": "1"})
        for bad in ({secret_key: "has space"}, {secret_key: 5}, {secret_key: "a" * 300}):
            failures = process.check({"name": "web", "tags": bad}).failures
            assert failures, bad
            for _, reason in failures:
                assert secret_key not in reason, reason
