"""Two SecurityGroup resources with the same name, description and tags, created at once by
one provider process (the engine runs creates on 4 threads), the second POST failing with a
503 that committed nothing: they end as two groups, never one group owned by two resources
(destroying either would delete it, and every rule in it, under the other)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from gcore_pulumi import SecurityGroupProvider
from gcore_pulumi.testing import GcoreEmulator
from gcore_pulumi.testing.engine import ProviderProcess

from .conftest import PROJECT, REGION, clean_env, stack_config

V2 = f"/cloud/v2/security_groups/{PROJECT}/{REGION}"


def test_two_identical_groups_created_at_once_are_two_groups() -> None:
    with (
        GcoreEmulator(api_key="k-review") as emulator,
        ProviderProcess(SecurityGroupProvider(), env=clean_env()) as process,
    ):
        process.configure(stack_config(emulator), secret_keys=["gcore:apiKey"])
        emulator.task_delays["create_security_group"] = 0.6
        # the second group POST answers 503 and commits nothing
        emulator.faults.add("503", method="POST", path_prefix=V2, schedule=[2])
        checked = process.check({"name": "web"}).inputs

        def create(delay: float) -> str:
            time.sleep(delay)
            return process.create(checked)[0]

        with ThreadPoolExecutor(2) as pool:
            ids = list(pool.map(create, [0.0, 0.15]))
        made = [g["id"] for g in emulator.groups() if g["name"] == "web"]
        assert ids[0] != ids[1], f"both resources got group {ids[0]}; Gcore has {made}"
