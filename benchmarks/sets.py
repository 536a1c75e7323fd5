"""Issue 17 benchmark rows: 1 group + 50 rules as a set, as separate rules over v1 and over
v2, and the same work polled every 3 s as Gcore's Terraform provider does.

    python benchmarks/sets.py [--rounds 3]      # these rows alone (run.py adds them too)

The emulator stands at a realistic distance: every answer 30 ms late (``latency``) and every
task 0.3 s long. Each figure goes through a real provider process, warm (one group made
first), with the dynamic provider server's 4 operations at a time. The 3 s rows use a small
client in this module that polls as Gcore's Terraform provider does (first poll 3 s after
the write, then every 3 s), 4 operations at a time too, so only the polling differs.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make `benchmarks.*` importable
    sys.path.insert(0, str(REPO))

from benchmarks.run import (  # noqa: E402
    API_KEY,
    PROJECT,
    REGION,
    Row,
    median,
    print_table,
    provider_process,
    rule_inputs,
    run_parallel,
)
from gcore_pulumi import SecurityGroupProvider, SecurityGroupRuleProvider  # noqa: E402
from gcore_pulumi.testing import GcoreEmulator  # noqa: E402

LATENCY = 0.03
TASK_SECONDS = 0.3
RULES = 50
ENGINE_THREADS = 4
"""The dynamic provider's gRPC server runs at most 4 calls at once."""
TERRAFORM_POLL = 3.0


def set_rules(count: int = RULES) -> list[dict[str, Any]]:
    """The same rules as ``rule_inputs`` makes one by one, as a group's ``rules``."""
    return [{k: v for k, v in rule_inputs("", i).items() if k != "group_id"}
            for i in range(count)]  # fmt: skip


def _emulator() -> GcoreEmulator:
    return GcoreEmulator(api_key=API_KEY, latency=LATENCY, task_delay=TASK_SECONDS)


@dataclass
class Run:
    seconds: float
    requests: int


@dataclass
class SetChange:
    patches: int
    tasks: int
    requests: int
    refresh_requests: int


def as_set() -> tuple[Run, SetChange]:
    """Create 1 group owning 50 rules (check + create); then a change of one rule (one
    update) and a refresh (one read)."""
    with _emulator() as emulator, provider_process(SecurityGroupProvider(), emulator) as p:
        p.create(p.check({"name": "warm-up", "rules": set_rules(1)}).inputs)
        emulator.clear_log()
        started = time.perf_counter()
        checked = p.check({"name": "bench", "rules": set_rules()})
        group_id, outputs = p.create(checked.inputs)
        made = Run(time.perf_counter() - started, len(emulator.requests))
        changed = set_rules()
        changed[7] = dict(changed[7], port_range_min=2007, port_range_max=2007)
        news = p.check({"name": "bench", "rules": changed}).inputs
        tasks_before = len(emulator.tasks("update_security_group"))
        emulator.clear_log()
        outputs = p.update(group_id, outputs, news)
        patches = emulator.count("PATCH")
        update_requests = len(emulator.requests)
        tasks = len(emulator.tasks("update_security_group")) - tasks_before
        emulator.clear_log()
        p.read(group_id, outputs, news)
        return made, SetChange(patches, tasks, update_requests, len(emulator.requests))


def as_separate_rules(rule_api: str) -> Run:
    """Create 1 group, then its 50 rules as SecurityGroupRule resources, 4 at a time."""
    group_provider = SecurityGroupProvider()
    with (
        _emulator() as emulator,
        provider_process(SecurityGroupRuleProvider(), emulator, **{"gcore:ruleApi": rule_api})
        as p,
        provider_process(group_provider, emulator) as groups,
    ):  # fmt: skip
        warm, _ = groups.create(groups.check({"name": "warm-up"}).inputs)
        p.create(p.check(rule_inputs(str(warm), 0)).inputs)
        emulator.clear_log()
        started = time.perf_counter()
        group_id, _ = groups.create(groups.check({"name": "bench"}).inputs)
        checked = [p.check(rule_inputs(str(group_id), i)).inputs for i in range(RULES)]
        _, errors = run_parallel(lambda i: p.create(checked[i]), RULES, ENGINE_THREADS)
        if errors:
            raise RuntimeError(f"{rule_api}: {len(errors)} creates failed: {errors[0]!r}")
        return Run(time.perf_counter() - started, len(emulator.requests))


class PollEvery3s:
    """The same writes as our provider sends, each task polled as Gcore's Terraform
    provider polls (first poll after 3 s, then every 3 s)."""

    def __init__(self, emulator: GcoreEmulator) -> None:
        self.base = emulator.base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"APIKey {API_KEY}"

    def write(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.session.request(method, self.base + path, json=body, timeout=30)
        answer.raise_for_status()
        [task_id] = answer.json()["tasks"]
        while True:
            time.sleep(TERRAFORM_POLL)
            task = self.session.get(f"{self.base}/cloud/v1/tasks/{task_id}", timeout=30).json()
            if task["state"] == "FINISHED":
                return dict(task["created_resources"])
            if task["state"] == "ERROR":
                raise RuntimeError(task["error"])

    def group(self, rules: list[dict[str, Any]]) -> str:
        made = self.write("POST", f"/cloud/v2/security_groups/{PROJECT}/{REGION}",
                          {"name": "bench", "rules": rules})  # fmt: skip
        group_id = str(made["security_groups"][0])
        self.session.get(f"{self.base}/cloud/v1/securitygroups/{PROJECT}/{REGION}/{group_id}")
        return group_id


def polled_every_3s(as_a_set: bool) -> Run:
    """The set, or the group then its 50 rules over v2 (4 at a time), polled every 3 s."""
    with _emulator() as emulator:
        client = PollEvery3s(emulator)
        started = time.perf_counter()
        if as_a_set:
            client.group(set_rules())
        else:
            group_id = client.group([])
            path = f"/cloud/v2/security_groups/{PROJECT}/{REGION}/{group_id}/rules"
            bodies = [{k: v for k, v in rule_inputs("", i).items() if k != "group_id"}
                      for i in range(RULES)]  # fmt: skip
            _, errors = run_parallel(
                lambda i: client.write("POST", path, bodies[i]), RULES, ENGINE_THREADS
            )
            if errors:
                raise RuntimeError(f"3 s polling: {errors[0]!r}")
        return Run(time.perf_counter() - started, len(emulator.requests))


def set_rows(rounds: int = 3, say: Any = None) -> list[Row]:
    """The issue 17 rows of the benchmark table."""
    say = say or (lambda _text: None)
    say(f"1 group + {RULES} rules at 30 ms + 0.3 s tasks: {rounds} rounds each way ...")
    sets, changes, v1, v2 = [], [], [], []
    for _ in range(rounds):  # interleaved, so drift of the machine hits every side alike
        made, change = as_set()
        sets.append(made)
        changes.append(change)
        v1.append(as_separate_rules("v1"))
        v2.append(as_separate_rules("v2"))
    say("the same, polled every 3 s (one round) ...")
    tf_set, tf_v2 = polled_every_3s(True), polled_every_3s(False)
    s, r1, r2 = (median([x.seconds for x in runs]) for runs in (sets, v1, v2))
    requests_set = max(x.requests for x in sets)
    change = changes[-1]
    rows = [
        Row(f"10. set of {RULES}: requests (create)", str(requests_set),
            f"{max(x.requests for x in v2)} (v2 rules) / {max(x.requests for x in v1)} (v1)",
            "-", "<= 15", requests_set <= 15),
        Row(f"10. set of {RULES} vs {RULES} separate v2 rules: time", _ms(s),
            f"{_ms(r2)} (v2)", f"{s / r2:.3f}", "<= 0.25", s / r2 <= 0.25),
        Row(f"10. (info) {RULES} separate v1 rules: time", _ms(r1), f"{_ms(s)} (set)",
            f"{s / r1:.3f}", "none", True, info=True),
        Row("10. change of 1 rule in the set: PATCHes / tasks",
            f"{change.patches} / {change.tasks}", "-", "-", "== 1 / == 1",
            change.patches == 1 and change.tasks == 1),
        Row("10. refresh of the set: requests", str(change.refresh_requests), "-", "-",
            "== 1", change.refresh_requests == 1),
        Row("10. (info) polled every 3 s (Terraform): set / separate v2 rules",
            f"{_ms(tf_set.seconds)} / {_ms(tf_v2.seconds)}",
            f"{_ms(s)} / {_ms(r2)} (this provider)", f"{s / tf_set.seconds:.3f} (set)",
            "none", True, info=True),
    ]  # fmt: skip
    say(f"requests: set {[x.requests for x in sets]}, v1 {[x.requests for x in v1]}, "
        f"v2 {[x.requests for x in v2]}, 3 s set {tf_set.requests}, 3 s v2 {tf_v2.requests}; "
        f"change of 1 rule: {change.requests} requests")  # fmt: skip
    return rows


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each way")
    args = parser.parse_args(argv)
    rows = set_rows(args.rounds, say=lambda text: print(text, file=sys.stderr, flush=True))
    print_table(rows)
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
