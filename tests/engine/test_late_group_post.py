"""A group POST that Gcore handles only after the client's read timeout (the emulator's
`slow` fault: sleep, then handle) is watched for before the POST is sent again, so both
tries never commit: one group, recorded."""

from __future__ import annotations

import time

from gcore_pulumi import SecurityGroupProvider
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderProcess

from .conftest import PROJECT, REGION, clean_env, stack_config

V2 = f"/cloud/v2/security_groups/{PROJECT}/{REGION}"


def test_timed_out_group_post_never_leaves_two_groups(emulator: GcoreEmulator) -> None:
    emulator.faults.add("slow", method="POST", path_prefix=V2, times=1, delay=0.8)
    with ProviderProcess(SecurityGroupProvider(), env=clean_env()) as process:
        config = stack_config(emulator, **{"gcore:timeout": "0.3"})
        process.configure(config, secret_keys=["gcore:apiKey"])
        checked = process.check({"name": "web"})
        group_id, _ = process.create(checked.inputs)
        output = process.output()
    time.sleep(1.0)  # let the slow first try land
    emulator.finish_tasks()
    named = [g["id"] for g in emulator.groups() if g["name"] == "web"]
    assert named == [group_id], f"{len(named)} groups named 'web' (stack has {group_id}); {output}"
