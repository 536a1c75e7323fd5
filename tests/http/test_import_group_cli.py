"""`python -m gcore_pulumi import-group <id>` against the emulator: one GET, the program on
stdout; a missing group or a bad id is one line on stderr and a non-zero exit."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

from gcore_pulumi.testing import GcoreEmulator


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GCORE_")}
    return subprocess.run(
        [sys.executable, "-m", "gcore_pulumi", "import-group", *args],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=60,
    )


def test_prints_the_group_with_adopt_id_and_its_rules_from_one_get() -> None:
    with GcoreEmulator(api_key="import-key") as api:
        group_id = api.create_group(3, 4, name="legacy", tags={"env": "prod"})
        api.add_rule(group_id, direction="ingress", protocol="tcp", port_range_min=3389,
                     port_range_max=3389, description="opened by hand")  # fmt: skip
        done = run(group_id, "--project-id", "3", "--region-id", "4", "--base-url",
                   api.base_url, GCORE_API_KEY="import-key")  # fmt: skip
        assert done.returncode == 0, done.stderr
        ast.parse(done.stdout)
        assert f"adopt_id={group_id!r}" in done.stdout
        assert "port_range_min=3389" in done.stdout and "'opened by hand'" in done.stdout
        assert "import-key" not in done.stdout + done.stderr
        assert [(r.method, r.path.split("?")[0]) for r in api.requests] == [
            ("GET", f"/cloud/v1/securitygroups/3/4/{group_id}")
        ]

        missing = run("7f1c4c2e-3a55-4f5e-9a43-1f0e2b8c9d10", "--base-url", api.base_url,
                      GCORE_API_KEY="import-key", GCORE_CLOUD_PROJECT_ID="3",
                      GCORE_CLOUD_REGION_ID="4")  # fmt: skip
        assert missing.returncode == 1 and missing.stdout == ""
        assert "no security group 7f1c4c2e-3a55-4f5e-9a43-1f0e2b8c9d10" in missing.stderr


def test_a_bad_id_is_a_usage_error() -> None:
    done = run("not-a-uuid")
    assert done.returncode == 2 and "is not a UUID" in done.stderr
