"""Issue 3 soak: up, refresh and destroy N rules through provider processes under API faults.

    python benchmarks/soak.py --rules N [--fault-rate 0.2] [--seed S] [--concurrency 8]

Each command runs in its own provider process (``python -m pulumi.dynamic``, driven by
``gcore_pulumi.testing.engine.ProviderProcess`` as the engine drives it), with `concurrency`
resource operations at a time, against the in-process Gcore emulator, which injects faults of
every kind (429 with Retry-After, 503, 502, slow answers beyond the read timeout,
commit_then_502, commit_then_drop, drop) into about `fault-rate` of all requests, POST, GET
and DELETE alike.

- up: Check then Create for rule i (tcp port 1000+i, so every rule is distinct);
- refresh: Read(id, old outputs, old inputs) of every created rule;
- destroy: Delete(id, old outputs) of every created rule.

Printed: rules requested; rules existing at the end of up; duplicates (rules sharing a port);
lost (ids returned by Create that the emulator does not have); orphans (rules left after
destroy); failed operations (RPC errors, a refresh that loses or changes a rule); faults
injected by kind; the provider's retry and reconciliation notices; wall time. Exit status 0
only when duplicates, lost, orphans and failed operations are all zero and every requested
rule existed after up.
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

from benchmarks.run import (  # noqa: E402
    PROJECT,
    REGION,
    provider_process,
    rule_inputs,
    run_parallel,
)
from gcore_pulumi import SecurityGroupRuleProvider  # noqa: E402
from gcore_pulumi.testing import FAULT_KINDS, GcoreEmulator  # noqa: E402
from gcore_pulumi.testing.engine import ProviderProcess  # noqa: E402

SOAK_CONFIG = {
    "gcore:maxRetries": "8",
    "gcore:retryBackoff": "0.01",
    "gcore:timeout": "0.5",
    "gcore:deadline": "60",
}
"""Small backoff so the soak runs quickly; a read timeout below the slow fault's delay."""
SLOW_DELAY = 0.8


@dataclass
class Failure:
    phase: str
    rule: int
    error: str


@dataclass
class SoakResult:
    requested: int
    existing_after_up: int = 0
    duplicates: int = 0
    lost: int = 0
    orphans: int = 0
    failures: list[Failure] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)
    faults_by_method: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    retries_logged: int = 0
    reconciled_logged: int = 0
    phase_seconds: dict[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.existing_after_up == self.requested
            and self.duplicates == 0
            and self.lost == 0
            and self.orphans == 0
            and not self.failures
        )

    def report(self) -> str:
        injected = sum(self.faults.values())
        by_kind = ", ".join(f"{k} {self.faults.get(k, 0)}" for k in FAULT_KINDS)
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in self.phase_seconds.items())
        lines = [
            f"rules requested          {self.requested}",
            f"existing after up        {self.existing_after_up}",
            f"duplicates               {self.duplicates}",
            f"lost                     {self.lost}",
            f"orphans after destroy    {self.orphans}",
            f"failed operations        {len(self.failures)}",
            f"retries (faults injected) {injected} of {self.requests} requests ({by_kind})",
            "faults by method         "
            + ", ".join(f"{m} {n}" for m, n in sorted(self.faults_by_method.items())),
            f"provider retry notices   {self.retries_logged}; "
            f"reconciled/adopted after an ambiguous POST: {self.reconciled_logged}",
            f"wall time                {self.wall_seconds:.1f} s ({phases})",
            f"result                   {'PASS' if self.ok else 'FAIL'}",
        ]
        lines += [f"  {f.phase} rule {f.rule}: {f.error}" for f in self.failures[:20]]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def add_faults(
    emulator: GcoreEmulator, rate: float, retry_after: str = "1", delay: float = SLOW_DELAY
) -> float:
    """One rule per fault kind, for every method, with equal chances adding up to `rate`.

    The injector consults its rules in order and the first that fires wins, so each gets
    probability p with 1 - (1 - p) ** kinds = rate. Returns p."""
    p = 1 - (1 - rate) ** (1 / len(FAULT_KINDS)) if rate > 0 else 0.0
    for kind in FAULT_KINDS:
        emulator.faults.add(kind, probability=p, retry_after=retry_after, delay=delay)
    return p


def _summary(error: BaseException) -> str:
    details = getattr(error, "details", None) or str(error)
    last = [line for line in str(details).strip().splitlines() if line.strip()]
    return f"{type(error).__name__}: {last[-1] if last else ''}"[:300]


def run_soak(
    rules: int,
    fault_rate: float = 0.2,
    seed: int = 0,
    concurrency: int = 8,
    retry_after: str = "1",
    log: Callable[[str], None] | None = None,
    read_cache_seconds: float | None = None,
) -> SoakResult:
    """The whole soak; never raises for a provider failure (it is counted and described)."""
    say = log or (lambda _text: None)
    config = dict(SOAK_CONFIG)
    if read_cache_seconds is not None:
        # 0 makes every refresh read the group itself, so GET faults hit refresh too
        config["gcore:readCacheSeconds"] = str(read_cache_seconds)
    result = SoakResult(requested=rules)
    started = time.perf_counter()
    outputs: list[dict[str, Any] | None] = [None] * rules
    inputs: list[dict[str, Any] | None] = [None] * rules
    ids: list[str | None] = [None] * rules
    stderr: list[str] = []

    def phase(
        name: str, process: ProviderProcess, op: Callable[[int], None], todo: Sequence[int]
    ) -> None:
        t0 = time.perf_counter()

        def guarded(k: int) -> None:
            i = todo[k]
            try:
                op(i)
            except Exception as error:
                result.failures.append(Failure(name, i, _summary(error)))

        run_parallel(guarded, len(todo), concurrency)
        result.phase_seconds[name] = time.perf_counter() - t0
        stderr.append(process.output("stderr"))
        say(f"{name}: {len(todo)} operations in {result.phase_seconds[name]:.1f} s")

    with GcoreEmulator(api_key=f"soak-{seed}", seed=seed) as emulator:
        group = emulator.create_group(PROJECT, REGION, name="soak")
        add_faults(emulator, fault_rate, retry_after)

        # up
        with provider_process(SecurityGroupRuleProvider(), emulator, **config) as process:

            def create(i: int) -> None:
                checked = process.check(rule_inputs(group, i))
                if checked.failures:
                    raise RuntimeError(f"check failed: {checked.failures}")
                rule_id, outs = process.create(checked.inputs)
                ids[i], outputs[i], inputs[i] = rule_id, outs, checked.inputs

            phase("up", process, create, range(rules))

        live = emulator.rules(group)
        ports = Counter(rule["port_range_min"] for rule in live)
        live_ids = {rule["id"] for rule in live}
        wanted = {1000 + i for i in range(rules)}
        result.existing_after_up = len(wanted & set(ports))
        result.duplicates = sum(count - 1 for count in ports.values())
        strays = set(ports) - wanted
        if strays:
            result.notes.append(f"rules with ports nobody asked for: {sorted(strays)[:10]}")
        lost = [i for i, rid in enumerate(ids) if rid is not None and rid not in live_ids]
        result.lost = len(lost)
        for i in lost:
            result.notes.append(f"create of rule {i} returned {ids[i]}, which does not exist")
        created = [i for i, rule_id in enumerate(ids) if rule_id is not None]

        # refresh
        with provider_process(SecurityGroupRuleProvider(), emulator, **config) as process:

            def refresh(i: int) -> None:
                read = process.read(str(ids[i]), outputs[i], inputs[i])
                if read.id != ids[i]:
                    raise RuntimeError(f"refresh returned id {read.id!r} for live rule {ids[i]}")
                if read.outputs != outputs[i]:
                    raise RuntimeError(f"refresh changed the outputs of {ids[i]}")

            phase("refresh", process, refresh, created)

        # destroy (with the old outputs, as the engine does)
        with provider_process(SecurityGroupRuleProvider(), emulator, **config) as process:
            phase(
                "destroy",
                process,
                lambda i: process.delete(str(ids[i]), outputs[i] or {}),
                created,
            )

        result.orphans = len(emulator.rules(group))
        result.faults = emulator.faults.injected
        log_records = emulator.requests
        result.requests = len(log_records)
        result.faults_by_method = dict(Counter(r.method for r in log_records if r.fault))
    text = "".join(stderr)
    result.retries_logged = text.count("retrying")
    result.reconciled_logged = text.count("adopting")
    result.wall_seconds = time.perf_counter() - started
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", type=int, required=True, help="how many rules (N)")
    parser.add_argument("--fault-rate", type=float, default=0.2, help="share of faulty requests")
    parser.add_argument("--seed", type=int, default=0, help="emulator and fault seed")
    parser.add_argument("--concurrency", type=int, default=8, help="operations at a time")
    parser.add_argument(
        "--retry-after", default="1", help="Retry-After of the 429 faults, seconds (0 or 1)"
    )
    parser.add_argument(
        "--read-cache-seconds",
        type=float,
        default=None,
        help="gcore:readCacheSeconds for the provider (0: no shared group reads in refresh)",
    )
    args = parser.parse_args(argv)
    if args.rules < 1 or not 0 <= args.fault_rate < 1 or args.concurrency < 1:
        parser.error("need --rules >= 1, 0 <= --fault-rate < 1, --concurrency >= 1")
    print(
        f"soak: {args.rules} rules, fault rate {args.fault_rate}, seed {args.seed}, "
        f"concurrency {args.concurrency}, Retry-After {args.retry_after}, slow {SLOW_DELAY} s, "
        f"config {SOAK_CONFIG}",
        flush=True,
    )
    result = run_soak(
        args.rules,
        args.fault_rate,
        args.seed,
        args.concurrency,
        args.retry_after,
        log=lambda text: print(text, flush=True),
        read_cache_seconds=args.read_cache_seconds,
    )
    print(result.report())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
