"""A task in ERROR fails the create with one readable line naming the task id and Gcore's
error, even when Gcore's error text has line breaks."""

from __future__ import annotations

from gcore_pulumi import SecurityGroupProvider
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderProcess, ProviderRpcError

from .conftest import clean_env, stack_config


def test_multiline_task_error_is_reported_in_one_line(emulator: GcoreEmulator) -> None:
    emulator.fail_tasks("create_security_group", error="Quota exceeded\nlimit: 10 groups")
    with ProviderProcess(SecurityGroupProvider(), env=clean_env()) as process:
        process.configure(stack_config(emulator), secret_keys=["gcore:apiKey"])
        try:
            process.create(process.check({"name": "web"}).inputs)
        except ProviderRpcError as error:
            [task] = emulator.tasks("create_security_group")
            last = error.details.strip().splitlines()[-1]
            assert task["id"] in last and "Quota exceeded" in last, last
        else:
            raise AssertionError("the failed task was taken as success")
