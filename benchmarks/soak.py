"""Issue 3 soak: up, refresh and destroy N rules through provider processes under API faults.

    python benchmarks/soak.py --rules N [--fault-rate 0.2] [--seed S] [--concurrency 8]
                              [--foreign-every 10] [--no-broken-answers]

Each command runs in its own provider process (``python -m pulumi.dynamic``, driven by
``gcore_pulumi.testing.engine.ProviderProcess`` as the engine drives it), with `concurrency`
resource operations at a time, against the in-process Gcore emulator, which injects faults of
every kind (429 with Retry-After, 503, 502, slow answers beyond the read timeout,
commit_then_502, commit_then_drop, drop) into about `fault-rate` of all requests, POST, GET
and DELETE alike; writes (POST, PATCH, DELETE) also meet success answers broken on the way
after Gcore committed them (commit_then_truncate: a cut-off body; commit_then_html_200: a
proxy's HTML 200), issue 15.2, unless `--no-broken-answers`.

- before: every `foreign-every`-th requested rule (i % foreign-every == foreign-every - 1) is a
  foreign twin: someone else made a rule identical to it under Gcore's duplicate check (every
  field but description) in the group, out of band (``emulator.add_rule``), before the run;
- up: Check then Create for rule i (tcp port 1000+i, so every rule is distinct), all without
  ``adopt_existing``. A foreign twin's Create must fail with the 409-style message naming the
  foreign rule's id, even when its POST met an ambiguous fault (5xx, timeout, dropped
  connection); every other Create must succeed;
- refresh: Read(id, old outputs, old inputs) of every created rule;
- destroy: Delete(id, old outputs) of every created rule (a twin whose Create returned an id
  is in the stack as the engine would have it, so it is destroyed too).

Printed: rules requested and how many are foreign twins; rules existing at the end of up;
duplicates (rules sharing a port); lost (ids returned by Create that the emulator does not
have); orphans (rules of ours left after destroy); foreign twins refused with the foreign
rule's id (and how many of them met an ambiguous fault first); foreign rules adopted (a Create
returned a foreign rule's id), deleted, or changed (compared with their state before the run,
after destroy); failed operations (RPC errors, a refresh that loses or changes a rule, a twin
created or refused without naming the foreign rule); faults injected by kind; the provider's
retry and reconciliation notices; wall time. Exit status 0 only when duplicates, lost,
orphans, foreign rules adopted, deleted or changed and failed operations are all zero, every
foreign twin was refused naming its foreign rule, and every requested rule existed after up.
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
from gcore_pulumi.testing import BROKEN_ANSWER_KINDS, FAULT_KINDS, GcoreEmulator  # noqa: E402
from gcore_pulumi.testing.engine import ProviderProcess  # noqa: E402

SOAK_CONFIG = {
    "gcore:maxRetries": "8",
    "gcore:retryBackoff": "0.01",
    "gcore:timeout": "0.5",
    "gcore:deadline": "60",
}
"""Small backoff so the soak runs quickly; a read timeout below the slow fault's delay."""
SLOW_DELAY = 0.8
AMBIGUOUS_FAULTS = (frozenset(FAULT_KINDS) - {"429"}) | frozenset(BROKEN_ANSWER_KINDS)
"""Faults after which a POST may or may not have been committed, as the client sees it."""
WRITE_METHODS = ("POST", "PATCH", "DELETE")
"""The methods that meet broken success answers (``broken_answers``): the writes."""


def is_twin(i: int, foreign_every: int) -> bool:
    """Whether requested rule i is a twin of a rule someone else made (0: none is)."""
    return foreign_every > 0 and i % foreign_every == foreign_every - 1


def foreign_fields(i: int) -> dict[str, Any]:
    """Rule i as someone else made it: identical under the duplicate check, own description."""
    fields = rule_inputs("unused", i)
    del fields["group_id"]
    return {**fields, "description": f"made by hand, not by the stack ({i})"}


@dataclass
class Failure:
    phase: str
    rule: int
    error: str


@dataclass
class SoakResult:
    requested: int
    foreign_twins: int = 0
    existing_after_up: int = 0
    duplicates: int = 0
    lost: int = 0
    orphans: int = 0
    twins_refused: int = 0
    twins_under_faults: int = 0
    foreign_adopted: int = 0
    foreign_deleted: int = 0
    foreign_changed: int = 0
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
            and self.twins_refused == self.foreign_twins
            and self.foreign_adopted == 0
            and self.foreign_deleted == 0
            and self.foreign_changed == 0
            and not self.failures
        )

    def report(self) -> str:
        injected = sum(self.faults.values())
        kinds = FAULT_KINDS + tuple(k for k in BROKEN_ANSWER_KINDS if k in self.faults)
        by_kind = ", ".join(f"{k} {self.faults.get(k, 0)}" for k in kinds)
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in self.phase_seconds.items())
        lines = [
            f"rules requested          {self.requested} ({self.foreign_twins} foreign twins)",
            f"existing after up        {self.existing_after_up}",
            f"duplicates               {self.duplicates}",
            f"lost                     {self.lost}",
            f"orphans after destroy    {self.orphans}",
            f"foreign twins refused    {self.twins_refused} of {self.foreign_twins}, naming the "
            f"foreign rule; twins whose POST met an ambiguous fault: {self.twins_under_faults}",
            f"foreign rules adopted    {self.foreign_adopted}",
            f"foreign rules deleted    {self.foreign_deleted}; changed {self.foreign_changed}",
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
    emulator: GcoreEmulator,
    rate: float,
    retry_after: str = "1",
    delay: float = SLOW_DELAY,
    broken_answers: bool = True,
) -> float:
    """One rule per fault kind, for every method, with equal chances adding up to `rate`;
    with ``broken_answers``, also one per broken-answer kind and write method.

    The injector consults its rules in order and the first that fires wins, so each gets
    probability p with 1 - (1 - p) ** kinds = rate. Returns p."""
    broken = BROKEN_ANSWER_KINDS if broken_answers else ()
    p = 1 - (1 - rate) ** (1 / (len(FAULT_KINDS) + len(broken))) if rate > 0 else 0.0
    for kind in FAULT_KINDS:
        emulator.faults.add(kind, probability=p, retry_after=retry_after, delay=delay)
    for kind in broken:
        for method in WRITE_METHODS:
            emulator.faults.add(kind, method=method, probability=p)
    return p


def _twins_under_faults(emulator: GcoreEmulator, twins: set[int]) -> set[int]:
    """The twins whose create sent a POST that met an ambiguous fault (by the body's port)."""
    hit = set()
    for record in emulator.requests:
        if record.method == "POST" and record.fault in AMBIGUOUS_FAULTS:
            body = record.body if isinstance(record.body, dict) else {}
            port = body.get("port_range_min")
            if isinstance(port, int) and port - 1000 in twins:
                hit.add(port - 1000)
    return hit


def _summary(error: BaseException, limit: int = 300) -> str:
    details = getattr(error, "details", None) or str(error)
    last = [line for line in str(details).strip().splitlines() if line.strip()]
    return f"{type(error).__name__}: {last[-1] if last else ''}"[:limit]


def run_soak(
    rules: int,
    fault_rate: float = 0.2,
    seed: int = 0,
    concurrency: int = 8,
    retry_after: str = "1",
    log: Callable[[str], None] | None = None,
    read_cache_seconds: float | None = None,
    foreign_every: int = 10,
    rule_api: str = "v1",
    duplicate_mode: str = "409",
    broken_answers: bool = True,
) -> SoakResult:
    """The whole soak; never raises for a provider failure (it is counted and described).

    ``rule_api`` is the provider's ``gcore:ruleApi``; with v2, ``duplicate_mode`` says how the
    emulator refuses a duplicate (a 409 at once, or a task that ends in ERROR).
    ``broken_answers`` (the default) adds success answers broken after Gcore committed the
    write (issue 15.2) to the faults."""
    say = log or (lambda _text: None)
    config = dict(SOAK_CONFIG)
    config["gcore:ruleApi"] = rule_api
    if read_cache_seconds is not None:
        # 0 makes every refresh read the group itself, so GET faults hit refresh too
        config["gcore:readCacheSeconds"] = str(read_cache_seconds)
    result = SoakResult(requested=rules)
    twins = [i for i in range(rules) if is_twin(i, foreign_every)]
    result.foreign_twins = len(twins)
    refused: set[int] = set()
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

    with GcoreEmulator(
        api_key=f"soak-{seed}",
        seed=seed,
        duplicate_mode=duplicate_mode,  # type: ignore[arg-type]
    ) as emulator:
        group = emulator.create_group(PROJECT, REGION, name="soak")
        # someone else's rules, there before the run (out of band, so no fault touches them)
        foreign = {i: emulator.add_rule(group, **foreign_fields(i)) for i in twins}
        foreign_ids = {rule["id"]: i for i, rule in foreign.items()}
        add_faults(emulator, fault_rate, retry_after, broken_answers=broken_answers)

        # up
        with provider_process(SecurityGroupRuleProvider(), emulator, **config) as process:

            def create(i: int) -> None:
                checked = process.check(rule_inputs(group, i))
                if checked.failures:
                    raise RuntimeError(f"check failed: {checked.failures}")
                if i not in foreign:
                    rule_id, outs = process.create(checked.inputs)
                    ids[i], outputs[i], inputs[i] = rule_id, outs, checked.inputs
                    return
                twin_of = foreign[i]["id"]
                try:
                    rule_id, outs = process.create(checked.inputs)
                except Exception as error:
                    message = str(error)
                    if twin_of in message and "already exists" in message:
                        if not refused:
                            result.notes.append(f"a twin's refusal: {_summary(error, 800)}")
                        refused.add(i)
                        return
                    raise RuntimeError(
                        f"twin of foreign rule {twin_of} failed without naming it: "
                        f"{_summary(error)}"
                    ) from None
                # the engine would now hold rule_id in the stack (and destroy it later)
                ids[i], outputs[i], inputs[i] = rule_id, outs, checked.inputs
                how = "adopted it" if rule_id == twin_of else f"created {rule_id} beside it"
                raise RuntimeError(
                    f"twin of foreign rule {twin_of}: {how}, although adopt_existing is off"
                )

            phase("up", process, create, range(rules))

        live = emulator.rules(group)
        result.twins_refused = len(refused)
        result.foreign_adopted = sum(1 for rule_id in ids if rule_id in foreign_ids)
        result.twins_under_faults = len(_twins_under_faults(emulator, set(twins)))
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

        left = {rule["id"]: rule for rule in emulator.rules(group)}
        result.orphans = len(set(left) - set(foreign_ids))
        result.foreign_deleted = len(set(foreign_ids) - set(left))
        changed = [r["id"] for r in foreign.values() if r["id"] in left and left[r["id"]] != r]
        result.foreign_changed = len(changed)
        for rule_id in set(foreign_ids) - set(left):
            result.notes.append(f"foreign rule {rule_id} (twin of rule {foreign_ids[rule_id]}) "
                                "was deleted")  # fmt: skip
        for rule_id in changed:
            result.notes.append(f"foreign rule {rule_id} was changed")
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
        "--foreign-every",
        type=int,
        default=10,
        help="every Nth requested rule is identical to a rule someone else made before the "
        "run, so its create must fail naming that rule (0: none)",
    )
    parser.add_argument(
        "--rule-api", choices=("v1", "v2"), default="v1", help="gcore:ruleApi for the provider"
    )
    parser.add_argument(
        "--duplicate-mode",
        choices=("409", "task_error"),
        default="409",
        help="with v2: how the emulator refuses a duplicate rule",
    )
    parser.add_argument(
        "--broken-answers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="writes also meet 2xx answers broken after Gcore committed them (a cut-off "
        "body, a proxy's HTML 200)",
    )
    parser.add_argument(
        "--read-cache-seconds",
        type=float,
        default=None,
        help="gcore:readCacheSeconds for the provider (0: no shared group reads in refresh)",
    )
    args = parser.parse_args(argv)
    if (
        args.rules < 1
        or not 0 <= args.fault_rate < 1
        or args.concurrency < 1
        or args.foreign_every < 0
    ):
        parser.error(
            "need --rules >= 1, 0 <= --fault-rate < 1, --concurrency >= 1, --foreign-every >= 0"
        )
    print(
        f"soak: {args.rules} rules, fault rate {args.fault_rate}, seed {args.seed}, "
        f"concurrency {args.concurrency}, Retry-After {args.retry_after}, slow {SLOW_DELAY} s, "
        f"foreign twin every {args.foreign_every}, rule API {args.rule_api} "
        f"(duplicates: {args.duplicate_mode}), broken answers {args.broken_answers}, "
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
        foreign_every=args.foreign_every,
        rule_api=args.rule_api,
        duplicate_mode=args.duplicate_mode,
        broken_answers=args.broken_answers,
    )
    print(result.report())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
