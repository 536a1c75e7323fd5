"""Issue 17 soak: groups that own their rule sets, up, drift, refresh, update and destroy
through provider processes under API faults, PATCHes whose answers are lost included.

    python benchmarks/soak_sets.py [--groups 12] [--rules 20] [--fault-rate 0.2]
                                   [--patch-loss 0.5] [--seed S] [--concurrency 4]

Separate from ``soak.py`` (rules one by one) so that each can grow on its own. The emulator
injects every fault kind Gcore produces (``soak.add_faults``) into about `fault-rate` of all
requests, and in front of them a ``commit_then_drop`` into `patch-loss` of the PATCHes:
Gcore applies the PATCH and the connection drops before its answer.

- before: a foreign group (someone else's, same name as ours) with one rule;
- up: ``SecurityGroup(name=f"set-{g}", rules=[tcp 1000..1000+rules-1])`` for each group;
- drift: a rule opened by hand (tcp 3389) in every group, out of band;
- refresh: Read of every group: its ``rules`` output must show the hand rule;
- update: the set changes (port 1000 dropped, port 1000+rules added): one update each;
- destroy: Delete of every group.

Counted: groups made twice (more than one group of ours with a name), groups missing after
up, rule sets wrong after up or after update (a rule missing, twice, or one not declared: the
hand rule left open), refreshes that do not show the hand rule, groups of ours left after
destroy, the foreign group deleted or changed, failed operations, faults injected. Exit 0
only when all are zero and PATCH answers were lost at least once.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make `benchmarks.*` importable
    sys.path.insert(0, str(REPO))

from benchmarks.run import PROJECT, REGION, provider_process, run_parallel  # noqa: E402
from benchmarks.soak import SOAK_CONFIG, add_faults  # noqa: E402
from gcore_pulumi import SecurityGroupProvider  # noqa: E402
from gcore_pulumi.testing import GcoreEmulator  # noqa: E402

HAND_PORT = 3389


def rule_set(ports: Sequence[int]) -> list[dict[str, Any]]:
    return [{"direction": "ingress", "protocol": "tcp", "port_range_min": port,
             "port_range_max": port} for port in ports]  # fmt: skip


@dataclass
class SetSoakResult:
    groups: int
    rules: int
    duplicate_groups: int = 0
    missing_after_up: int = 0
    wrong_sets_after_up: int = 0
    refresh_without_hand_rule: int = 0
    wrong_sets_after_update: int = 0
    hand_rules_left_open: int = 0
    orphan_groups: int = 0
    foreign_touched: int = 0
    failures: list[str] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)
    patch_answers_lost: int = 0
    patches: int = 0
    wall_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.duplicate_groups == self.missing_after_up == self.wrong_sets_after_up == 0
            and self.refresh_without_hand_rule == self.wrong_sets_after_update == 0
            and self.hand_rules_left_open == self.orphan_groups == self.foreign_touched == 0
            and not self.failures
            and self.patch_answers_lost > 0
        )

    def report(self) -> str:
        lines = [
            f"groups {self.groups} x {self.rules} rules, wall {self.wall_seconds:.1f} s",
            f"groups made twice: {self.duplicate_groups}; missing after up: "
            f"{self.missing_after_up}",
            f"wrong rule sets after up: {self.wrong_sets_after_up}; after update: "
            f"{self.wrong_sets_after_update}; hand rules left open: {self.hand_rules_left_open}",
            f"refreshes not showing the hand rule: {self.refresh_without_hand_rule}",
            f"groups left after destroy: {self.orphan_groups}; foreign group touched: "
            f"{self.foreign_touched}",
            f"PATCHes sent: {self.patches}, answers lost after commit: {self.patch_answers_lost}",
            f"faults injected: {dict(sorted(self.faults.items()))}",
            f"failed operations: {len(self.failures)}",
            *[f"  {failure}" for failure in self.failures[:10]],
            "OK" if self.ok else "NOT OK",
        ]
        return "\n".join(lines)


def _ports(rules: list[dict[str, Any]]) -> list[int]:
    return sorted(int(rule["port_range_min"]) for rule in rules)


def run_set_soak(
    groups: int = 12,
    rules: int = 20,
    fault_rate: float = 0.2,
    patch_loss: float = 0.5,
    seed: int = 0,
    concurrency: int = 4,
    log: Callable[[str], None] | None = None,
) -> SetSoakResult:
    """The whole set soak; never raises for a provider failure (it is counted)."""
    say = log or (lambda _text: None)
    result = SetSoakResult(groups=groups, rules=rules)
    started = time.perf_counter()
    first = list(range(1000, 1000 + rules))
    second = [*first[1:], 1000 + rules]
    ids: list[str | None] = [None] * groups
    state: list[dict[str, Any] | None] = [None] * groups

    def phase(name: str, op: Callable[[int], None]) -> None:
        def guarded(g: int) -> None:
            try:
                op(g)
            except Exception as error:
                details = getattr(error, "details", None) or str(error)
                last = [x for x in str(details).strip().splitlines() if x.strip()]
                result.failures.append(f"{name} set-{g}: {last[-1] if last else error}"[:300])

        t0 = time.perf_counter()
        run_parallel(guarded, groups, concurrency)
        say(f"{name}: {groups} operations in {time.perf_counter() - t0:.1f} s")

    with GcoreEmulator(api_key=f"set-soak-{seed}", seed=seed) as emulator:
        foreign = emulator.create_group(PROJECT, REGION, name="set-0")
        emulator.add_rule(foreign, **rule_set([22])[0])
        foreign_before = emulator.group(foreign)
        emulator.faults.add("commit_then_drop", method="PATCH", probability=patch_loss)
        add_faults(emulator, fault_rate, retry_after="0")

        with provider_process(SecurityGroupProvider(), emulator, **SOAK_CONFIG) as process:

            def create(g: int) -> None:
                checked = process.check({"name": f"set-{g}", "rules": rule_set(first)})
                ids[g], state[g] = process.create(checked.inputs)

            phase("up", create)

        mine = [x for x in emulator.groups() if x["id"] != foreign]
        names = Counter(x["name"] for x in mine)
        result.duplicate_groups = sum(count - 1 for count in names.values())
        result.missing_after_up = sum(1 for g in range(groups) if f"set-{g}" not in names)
        result.wrong_sets_after_up = sum(
            1 for x in mine if _ports(x["security_group_rules"]) != first
        )
        made = [g for g in range(groups) if ids[g] is not None]
        for g in made:
            emulator.add_rule(str(ids[g]), **rule_set([HAND_PORT])[0])

        with provider_process(SecurityGroupProvider(), emulator, **SOAK_CONFIG) as process:

            def refresh(g: int) -> None:
                read = process.read(str(ids[g]), state[g] or {}, None)
                if HAND_PORT not in _ports(read.outputs.get("rules") or []):
                    result.refresh_without_hand_rule += 1
                state[g] = read.outputs

            phase("refresh", refresh)

        with provider_process(SecurityGroupProvider(), emulator, **SOAK_CONFIG) as process:

            def update(g: int) -> None:
                news = process.check({"name": f"set-{g}", "rules": rule_set(second)}).inputs
                state[g] = process.update(str(ids[g]), state[g] or {}, news)

            phase("update", update)

        for g in made:
            live = _ports(emulator.rules(str(ids[g])))
            result.wrong_sets_after_update += live != second
            result.hand_rules_left_open += HAND_PORT in live

        with provider_process(SecurityGroupProvider(), emulator, **SOAK_CONFIG) as process:
            phase("destroy", lambda g: process.delete(str(ids[g]), state[g] or {}))

        left = [x for x in emulator.groups() if x["id"] != foreign]
        result.orphan_groups = len(left)
        still = [x for x in emulator.groups() if x["id"] == foreign]
        result.foreign_touched = int(still != [foreign_before])
        result.faults = emulator.faults.injected
        patches = [r for r in emulator.requests if r.method == "PATCH"]
        result.patches = len(patches)
        result.patch_answers_lost = sum(1 for r in patches if r.fault == "commit_then_drop")
    result.wall_seconds = time.perf_counter() - started
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=12, help="how many groups")
    parser.add_argument("--rules", type=int, default=20, help="rules in each group's set")
    parser.add_argument("--fault-rate", type=float, default=0.2, help="share of faulty requests")
    parser.add_argument("--patch-loss", type=float, default=0.5,
                        help="share of PATCHes whose answer is lost after commit")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="emulator and fault seed")
    parser.add_argument("--concurrency", type=int, default=4, help="operations at a time")
    args = parser.parse_args(argv)
    result = run_set_soak(args.groups, args.rules, args.fault_rate, args.patch_loss, args.seed,
                          args.concurrency, log=print)  # fmt: skip
    print(result.report())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
