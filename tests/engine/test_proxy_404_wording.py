"""Only Gcore can say "gone": a proxy's HTML 404 to a group PATCH or a task poll is reported
as an answer that is not Gcore's, never with wording that only Gcore's own 404 may earn
("the group is gone", "Gcore does not know this task")."""

from __future__ import annotations

from gcore_pulumi import SecurityGroupProvider
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderProcess, ProviderRpcError

from .conftest import clean_env, stack_config


def test_proxy_404_on_patch_does_not_say_the_group_is_gone(emulator: GcoreEmulator) -> None:
    with ProviderProcess(SecurityGroupProvider(), env=clean_env()) as process:
        process.configure(stack_config(emulator), secret_keys=["gcore:apiKey"])
        group_id, outputs = process.create(process.check({"name": "web"}).inputs)
        emulator.faults.add("html_404", method="PATCH", times=1)
        try:
            process.update(group_id, outputs, process.check({"name": "web2"}).inputs)
        except ProviderRpcError as error:
            last = error.details.strip().splitlines()[-1]
            assert "group is gone" not in last, last
        else:
            raise AssertionError("a proxy's 404 was taken as success")
