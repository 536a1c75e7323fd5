"""The runner's command line (`python -m gcore_pulumi.testing run`) reports what really
happened: secrets masked, adopted rules really deleted (and "deleted" only once Gcore no longer
has them), the provider's diagnostics under each resource, resources in registration order,
no silent wait, a pause after up for hand-made drift, and how to clean up without the CLI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from pulumi.runtime import rpc

from gcore_pulumi.testing import GcoreEmulator, RequestRecord
from gcore_pulumi.testing.faults import ALL_FAULT_KINDS
from gcore_pulumi.testing.runner import EXIT_FAILED, EXIT_OK
from tests.program.test_runner import BASIC, KEY, REPO, clean_env, provider_config, write_program

ADOPT = REPO / "examples" / "adopt"
BASIC_ORDER = ["https-ipv4", "https-ipv6", "http-ipv4", "http-ipv6", "ssh", "icmp-echo"]


@pytest.fixture
def api() -> GcoreEmulator:
    with GcoreEmulator(api_key=KEY, seed=7) as emulator:
        yield emulator  # type: ignore[misc]


def command(api: GcoreEmulator, program: Path, *extra: str, **config: str) -> list[str]:
    line = [sys.executable, "-m", "gcore_pulumi.testing", "run", str(program), *extra]
    for key, value in {**provider_config(api), **config}.items():
        if key != "gcore:apiKey":
            line += ["--config", f"{key}={value}"]
    return [*line, "--secret", "gcore:apiKey"]  # the key comes on stdin


def run_cli(
    api: GcoreEmulator, program: Path, *extra: str, **config: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(api, program, *extra, **config),
        input=KEY + "\n",
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=REPO,
        timeout=180,
        check=False,
    )


def created_order(out: str) -> list[str]:
    return re.findall(r"^  \+ \S+  (\S+)  created, id ", out, re.MULTILINE)


SECRET_PROGRAM = """
    import pulumi
    from gcore_pulumi import SecurityGroupRule

    rule = SecurityGroupRule(
        "secret-rule",
        group_id=pulumi.Config().require("securityGroupId"),
        direction="ingress",
        protocol="tcp",
        port_range_min=8443,
        port_range_max=8443,
        remote_ip_prefix="192.0.2.0/24",
        description=pulumi.Output.secret("hidden-desc-5a1e"),
    )
    pulumi.export("desc", rule.description)
"""


@pytest.mark.parametrize("show_outputs", [False, True])
def test_a_secret_output_given_as_input_is_never_printed(
    api: GcoreEmulator, tmp_path: Path, show_outputs: bool
) -> None:
    group = api.create_group()
    program = write_program(tmp_path / "secret", SECRET_PROGRAM)
    extra = ["--show-outputs"] if show_outputs else []
    done = run_cli(api, program, *extra, securityGroupId=group)

    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    assert "hidden-desc-5a1e" not in done.stdout + done.stderr
    assert done.stdout.count("description=[secret]") == 2  # plan and up
    assert "desc: [secret]" in done.stdout
    if show_outputs:
        assert "output description: [secret]" in done.stdout
        assert "output remote_ip_prefix: 192.0.2.0/24" in done.stdout
    else:
        assert "output " not in done.stdout


def test_adopted_rules_are_really_deleted_by_the_destroy(api: GcoreEmulator) -> None:
    group = api.create_group()
    ssh = api.add_rule(
        group,
        direction="ingress",
        ethertype="IPv4",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="198.51.100.0/24",
        description="SSH from the office",
    )
    https = api.add_rule(
        group,
        direction="ingress",
        ethertype="IPv4",
        protocol="tcp",
        port_range_min=443,
        port_range_max=443,
        remote_ip_prefix="0.0.0.0/0",
        description="HTTPS",
    )

    done = run_cli(api, ADOPT, securityGroupId=group)

    out = done.stdout
    assert done.returncode == EXIT_OK, out + done.stderr
    assert api.count("POST") == 0  # adopted, not created
    assert api.rules(group) == []
    deletes = [r.path for r in api.requests if r.method == "DELETE"]
    assert sorted(deletes) == sorted(
        f"/cloud/v1/securitygrouprules/1/1/{rule['id']}" for rule in (ssh, https)
    )
    for rule in (ssh, https):
        assert f"adopting existing rule {rule['id']}" in out
        assert f"deleted, id {rule['id']} (read back: Gcore no longer has it)" in out
    assert "2 resource(s) deleted; nothing is left behind." in out


def test_a_delete_that_leaves_the_resource_is_never_reported_deleted(
    api: GcoreEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Something answers the DELETE with 204 but the rule stays (a stand-in for an answer that
    # is not Gcore's): only reading it back can tell. The report then says LEFT BEHIND, with a
    # command that deletes it without the CLI.
    group = api.create_group()
    state = api._state  # the in-process emulator's state: make its v1 rule DELETE a no-op
    monkeypatch.setattr(state, "delete_rule_v1", lambda *args: None)
    done = run_cli(api, write_program(tmp_path / "one", SECRET_PROGRAM), securityGroupId=group)

    out = done.stdout
    assert done.returncode == EXIT_FAILED, out
    assert api.count("DELETE") == 1
    assert " deleted, id " not in out and "nothing is left behind" not in out
    [rule] = api.rules(group)
    assert f"secret-rule  id {rule['id']}: still exists after its Delete succeeded" in out
    assert "LEFT BEHIND (1), delete them yourself (without the Pulumi CLI" in out
    [hint] = [line.strip() for line in out.splitlines() if line.strip().startswith("curl ")]
    assert rule["id"] in hint and KEY not in out
    # The command works as printed (with the key in GCORE_API_KEY).
    monkeypatch.undo()
    subprocess.run(
        ["bash", "-c", hint + " --fail -s"],
        env={**clean_env(), "GCORE_API_KEY": KEY},
        check=True,
        timeout=30,
    )
    assert api.rules(group) == []


def test_a_delete_that_fails_is_left_behind_with_how_to_delete_it(
    api: GcoreEmulator, tmp_path: Path
) -> None:
    group = api.create_group()
    api.faults.add("500", method="DELETE") if "500" in ALL_FAULT_KINDS else api.faults.add(
        "502", method="DELETE"
    )
    done = run_cli(api, write_program(tmp_path / "one", SECRET_PROGRAM), securityGroupId=group)

    out = done.stdout
    assert done.returncode == EXIT_FAILED, out
    [rule] = api.rules(group)
    assert " deleted, id " not in out
    assert "LEFT BEHIND (1)" in out and rule["id"] in out.split("LEFT BEHIND")[1]
    assert "curl -X DELETE" in out.split("LEFT BEHIND")[1]


def test_diagnostics_show_under_their_resource_and_the_order_is_registration_order(
    api: GcoreEmulator,
) -> None:
    group = api.create_group()
    api.faults.add("503", method="POST", times=2)
    done = run_cli(api, BASIC, securityGroupId=group)

    out = done.stdout
    assert done.returncode == EXIT_OK, out + done.stderr
    assert created_order(out) == BASIC_ORDER
    up = out[out.index("== Up") : out.index("== Refresh")]
    # The first Create was retried twice: both retry lines are under it, and only there.
    first, second = BASIC_ORDER[:2]
    block = up[up.index(f"  {first}  created") : up.index(f"  {second}  created")]
    assert len(re.findall(r"provider: gcore: POST .* got HTTP 503.*retrying", block)) == 2, up
    rest = up[up.index(f"  {second}  created") :]
    assert "provider:" not in rest
    # Each line once: a quick call's lines only under its resource, not also as it happened.
    assert len(re.findall(r"got HTTP 503", out)) == 2, out
    # One line of inputs per resource, not the whole JSON.
    assert "      direction=ingress ethertype=IPv4 protocol=tcp ports=443 " in up
    assert max(len(line) for line in up.splitlines() if "direction=" in line) < 200


def test_the_order_is_the_same_however_the_creates_finish(
    api: GcoreEmulator, tmp_path: Path
) -> None:
    # Two independent rules wait on two groups; the first group is slow to create, so its
    # rule finishes last. The listing stays in the order of the program, run after run.
    program = write_program(
        tmp_path / "order",
        """
        import pulumi
        from gcore_pulumi import SecurityGroup, SecurityGroupRule

        slow = SecurityGroup("a-slow", name="a-slow")
        fast = SecurityGroup("b-fast", name="b-fast")
        for name, group in (("rule-of-slow", slow), ("rule-of-fast", fast)):
            SecurityGroupRule(name, group_id=group.id, direction="egress")
        """,
    )
    for _ in range(2):
        done = run_cli(api, program)
        assert done.returncode == EXIT_OK, done.stdout + done.stderr
        assert created_order(done.stdout) == ["a-slow", "b-fast", "rule-of-slow", "rule-of-fast"]


def test_a_slow_call_says_what_it_waits_for(api: GcoreEmulator) -> None:
    group = api.create_group()
    api.faults.add("slow", method="POST", times=1, delay=4.5)
    done = run_cli(api, BASIC, securityGroupId=group)

    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    assert re.search(
        r"\[https-ipv4\] still waiting for the provider's Create \([23] s so far", done.stdout
    ), done.stdout


def test_pause_after_up_lets_a_hand_made_change_show_as_drift(api: GcoreEmulator) -> None:
    group = api.create_group()

    def by_hand(printed: str) -> None:
        assert "Paused after up" in printed, printed
        assert "== Refresh" not in printed
        ssh = next(r for r in api.rules(group) if r["port_range_min"] == 22)
        api.remove_rule(ssh["id"])  # by hand, while the runner waits

    out = run_paused(api, BASIC, by_hand, securityGroupId=group)
    assert "ssh  drift: gone (deleted outside this run)" in out
    assert "1 resource(s) drifted." in out
    assert api.rules(group) == []


def test_pause_after_up_prints_a_command_that_really_makes_the_drift_it_promises(
    api: GcoreEmulator,
) -> None:
    """The pause names a created rule and a ready curl (real ids, the provider's base URL,
    project and region, the key from $GCORE_API_KEY, never the key itself); running it by
    hand makes refresh report exactly what the pause says: that rule gone."""
    group = api.create_group()
    paused: dict[str, str] = {}

    def by_hand(printed: str) -> None:
        seen = printed.splitlines(keepends=True)
        pause = "".join(seen[next(i for i, x in enumerate(seen) if "Paused" in x) :])
        paused["text"] = pause
        prose = [x for x in pause.splitlines() if not x.strip().startswith("curl ")]
        assert all(len(line) <= 100 for line in prose), pause
        named = re.search(r"delete the rule (\S+)", pause)
        curl = next((x.strip() for x in pause.splitlines() if x.strip().startswith("curl ")), "")
        assert named and curl, pause
        paused["named"] = named.group(1)
        assert KEY not in pause and "$GCORE_API_KEY" in curl and api.base_url in curl, pause
        before = {r["id"] for r in api.rules(group)}
        done = subprocess.run(
            ["bash", "-c", curl + " -sS -f -o /dev/null"],
            env={**clean_env(), "GCORE_API_KEY": KEY},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert len({r["id"] for r in api.rules(group)}) == len(before) - 1

    out = run_paused(api, BASIC, by_hand, securityGroupId=group)
    assert 'show it as "drift: gone"' in paused["text"]
    assert f"{paused['named']}  drift: gone (deleted outside this run)" in out
    assert "1 resource(s) drifted." in out


def test_the_program_and_the_provider_know_they_run_under_the_runner(
    api: GcoreEmulator, tmp_path: Path
) -> None:
    group = api.create_group()
    provider_env: list[str] = []

    def read_provider_env(record: RequestRecord) -> None:
        if record.method == "POST" and not provider_env:
            for child in _children(os.getpid()):
                cmdline = (Path("/proc") / str(child) / "cmdline").read_bytes()
                if b"pulumi.dynamic" in cmdline:
                    environ = (Path("/proc") / str(child) / "environ").read_bytes()
                    provider_env.extend(v.decode() for v in environ.split(b"\0"))

    program = write_program(
        tmp_path / "env",
        SECRET_PROGRAM
        + '\n    import os\n    pulumi.export("flag", os.environ.get("GCORE_PULUMI_RUNNER"))\n',
    )
    api.on_request(read_provider_env)
    done = run_cli(api, program, securityGroupId=group)

    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    assert "  flag: 1" in done.stdout
    assert "GCORE_PULUMI_RUNNER=1" in provider_env


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return [c for child in found for c in (child, *_children(child))]


@pytest.mark.parametrize("rule_api", ["v1", "v2"])
def test_the_left_behind_command_uses_the_settings_the_provider_used(
    api: GcoreEmulator, tmp_path: Path, rule_api: str
) -> None:
    # The base URL, project and region come from GCORE_* variables (not the stack config),
    # and gcore:ruleApi picks the rule route: the printed curl must use them all, as the
    # provider did, and work as printed.
    group = api.create_group()
    api.faults.add("502", method="DELETE")
    line = [sys.executable, "-m", "gcore_pulumi.testing", "run"]
    line += [str(write_program(tmp_path / "one", SECRET_PROGRAM)), "--secret", "gcore:apiKey"]
    line += ["--config", f"securityGroupId={group}", "--config", f"gcore:ruleApi={rule_api}"]
    line += ["--config", "gcore:retryBackoff=0.01", "--config", "gcore:maxRetries=1"]
    env = {
        **clean_env(),
        "GCORE_BASE_URL": api.base_url,
        "GCORE_CLOUD_PROJECT_ID": "1",
        "GCORE_CLOUD_REGION_ID": "1",
    }
    done = subprocess.run(
        line, input=KEY + "\n", capture_output=True, text=True, env=env, cwd=REPO,
        timeout=180, check=False,
    )  # fmt: skip

    out = done.stdout
    assert done.returncode == EXIT_FAILED, out + done.stderr
    [rule] = api.rules(group)
    [hint] = [line.strip() for line in out.splitlines() if line.strip().startswith("curl ")]
    assert KEY not in out and "$GCORE_API_KEY" in hint
    assert hint.endswith(
        f"/cloud/v2/security_groups/1/1/{group}/rules/{rule['id']}"
        if rule_api == "v2"
        else f"/cloud/v1/securitygrouprules/1/1/{rule['id']}"
    )
    assert f" {api.base_url}/cloud/" in hint
    api.faults.clear()
    subprocess.run(
        ["bash", "-c", hint + " --fail -s"],
        env={**clean_env(), "GCORE_API_KEY": KEY},
        check=True,
        timeout=30,
    )
    for _ in range(100):  # a v2 delete is a task
        if not api.rules(group):
            break
        threading.Event().wait(0.05)
    assert api.rules(group) == []


def test_a_slow_calls_lines_show_as_they_happen_and_only_once(
    api: GcoreEmulator, tmp_path: Path
) -> None:
    # A Delete retried for more than 2 s: its lines are printed as they come (no silent
    # wait), tagged with the resource, and not repeated under the resource afterwards.
    group = api.create_group()
    api.faults.add("503", method="DELETE")
    program = write_program(tmp_path / "one", SECRET_PROGRAM)
    config = {"securityGroupId": group, "gcore:retryBackoff": "1.5", "gcore:maxRetries": "2"}
    done = run_cli(api, program, **config)

    out = done.stdout
    assert done.returncode == EXIT_FAILED, out
    destroy = out[out.index("== Destroy") :]
    for retry in (1, 2):
        lines = [line for line in destroy.splitlines() if f"(retry {retry} of 2)" in line]
        assert len(lines) == 1, destroy
        assert lines[0].startswith("      [secret-rule] gcore: DELETE "), destroy
    assert "provider:" not in destroy, destroy


def test_the_plan_shows_an_id_not_yet_known_as_known_after_up_not_a_made_up_value(
    api: GcoreEmulator,
) -> None:
    """In the plan a rule's group_id (the id of a group not created yet) is unknown, as the
    CLI shows it: never the engine's placeholder string, which looks like a real id."""
    done = run_cli(api, REPO / "examples" / "group-and-rules")

    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    plan = done.stdout.split("== Up")[0]
    assert "group_id=(known after up)" in plan, plan
    assert rpc.UNKNOWN not in done.stdout


def run_paused(
    api: GcoreEmulator, program: Path, by_hand: Callable[[str], None], **config: str
) -> str:
    """Run ``program`` through the command line with --pause-after-up, call ``by_hand`` with
    what it printed so far while it waits, go on; return everything it printed."""
    with subprocess.Popen(
        command(api, program, "--pause-after-up", **config),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clean_env(),
        cwd=REPO,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(KEY + "\n")
        proc.stdin.flush()
        seen = []
        timer = threading.Timer(120, proc.kill)
        timer.start()
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("Press Enter"):
                break
        timer.cancel()
        by_hand("".join(seen))
        rest, _ = proc.communicate("\n", timeout=120)
    out = "".join(seen) + rest
    assert proc.returncode == EXIT_OK, out
    return out


def test_drift_of_a_groups_rules_shows_the_rules_added_and_removed_one_line_each(
    api: GcoreEmulator,
) -> None:
    """A rule opened by hand in a group that owns its set, and one of its rules deleted by
    hand: refresh names each on a line of its own, not both whole arrays on one line."""
    gone: list[str] = []

    def by_hand(printed: str) -> None:
        [group] = api.groups()
        ssh = next(r for r in api.rules(str(group["id"])) if r["port_range_min"] == 22)
        api.remove_rule(str(ssh["id"]))
        gone.append(str(ssh["id"]))
        api.add_rule(str(group["id"]), direction="ingress", protocol="tcp",
                     port_range_min=3389, port_range_max=3389, description="by hand")  # fmt: skip

    out = run_paused(api, REPO / "examples" / "web-tier-set", by_hand)
    refresh = out.split("== Refresh")[1].split("== Destroy")[0]
    assert "rules: 1 added, 1 removed (below)" in refresh, refresh
    [removed] = [x for x in refresh.splitlines() if x.startswith("      rules - ")]
    [added] = [x for x in refresh.splitlines() if x.startswith("      rules + ")]
    assert "ports=22 " in removed and f"id={gone[0]}" in removed, refresh
    assert "ports=3389 " in added and 'description="by hand"' in added, refresh
    assert all(len(x) < 300 for x in refresh.splitlines()), refresh


@pytest.mark.parametrize("rule_api", ["v1", "v2"])
def test_pause_after_up_for_a_group_owning_its_set_prints_a_command_that_adds_a_rule(
    api: GcoreEmulator, rule_api: str
) -> None:
    """No separate rule was created: the pause prints a ready curl that adds a rule to the
    group (by the rule API the provider uses, the key from $GCORE_API_KEY), and running it
    makes refresh show what the pause says: one rule added, on a line of its own."""
    pauses: list[str] = []

    def by_hand(printed: str) -> None:
        pause = printed[printed.index("Paused after up") :]
        pauses.append(pause)
        curl = next(x.strip() for x in pause.splitlines() if x.strip().startswith("curl "))
        assert KEY not in pause and "$GCORE_API_KEY" in curl and api.base_url in curl, pause
        prose = [x for x in pause.splitlines() if not x.strip().startswith("curl ")]
        assert all(len(line) <= 100 for line in prose), pause
        done = subprocess.run(
            ["bash", "-c", curl + " -sS -f -o /dev/null"],
            env={**clean_env(), "GCORE_API_KEY": KEY}, capture_output=True, text=True,
            timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    out = run_paused(
        api, REPO / "examples" / "web-tier-set", by_hand, **{"gcore:ruleApi": rule_api}
    )
    refresh = out.split("== Refresh")[1].split("== Destroy")[0]
    assert "rules: 1 added, 0 removed" in pauses[0] and "rules: 1 added, 0 removed" in refresh
    [added] = [x for x in refresh.splitlines() if x.startswith("      rules + ")]
    assert "ports=3389 " in added and "remote_ip_prefix=192.0.2.0/24" in added, refresh
    assert api.all_rules() == []
