"""Issue 4 performance targets, measured side by side with a minimal dynamic provider.

    python benchmarks/run.py [--quick] [--rounds R]

Every figure is taken through a real provider process (``python -m pulumi.dynamic``, driven
by ``gcore_pulumi.testing.engine.ProviderProcess`` the way the engine drives it) against the
in-process Gcore emulator, on loopback only. Comparisons run both sides alternately (the order
flips every round) and take medians, because the machine is shared and noisy; the verdicts
are ratios, never absolute times.

Targets (bounds from the issue; the scaling bound is this benchmark's reading of "flat"):

1. pickled provider (``__provider``) size <= 200 characters;
2. cold start (spawn to first answered Check), this provider / minimal provider <= 1.4;
3. per-call overhead (creates, 4 concurrent calls), this provider / minimal provider <= 1.2;
4. refresh of N rules of one group by 12 threads costs <= 0.1 group GETs per rule, and a read
   after a write through the same process is never stale;
5. preview (Check and Diff) makes zero HTTP requests;
6. create, refresh and destroy cost per rule stays flat from the smallest N to the largest
   (largest-N per-rule time / smallest-N per-rule time <= 1.5);
7. (issue 9) a group create whose task takes 1 s answers within 1.3 s of Gcore's answer to
   the POST, polling the task at most 10 times (the official SDK's first poll comes at 3 s);
8. (issue 9) `up` of a program of 1 group + 50 rules costs no more than its parts apart (the
   group alone plus 50 rules into an existing group): ratio <= 1.3.

The module also serves ``tests/perf`` and ``benchmarks/soak.py``: every measurement is a
function returning numbers. Exit status 1 when a target fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make `benchmarks.*` importable
    sys.path.insert(0, str(REPO))

from pulumi.dynamic import ResourceProvider  # noqa: E402
from pulumi.dynamic.dynamic import serialize_provider  # noqa: E402

from benchmarks.minimal_provider import MinimalProvider  # noqa: E402
from gcore_pulumi import SecurityGroupProvider, SecurityGroupRuleProvider  # noqa: E402
from gcore_pulumi.testing import GcoreEmulator  # noqa: E402
from gcore_pulumi.testing.engine import UNKNOWN, ProviderProcess  # noqa: E402

API_KEY = "bench-key-5d1e9b"
PROJECT = REGION = 1
GROUP_PATH = "/cloud/v1/securitygroups/"
SCALING_THREADS = 8
"""Concurrent resource operations in the scaling runs (the engine runs steps in parallel)."""
RPC_TIMEOUT = 90.0
"""Upper bound on any one RPC (every provider request loop is also bounded by its config)."""

SIDES: dict[str, Callable[[], ResourceProvider]] = {
    "provider": SecurityGroupRuleProvider,
    "baseline": MinimalProvider,
}

# What `python -m pulumi.dynamic` imports before it serves (pulumi/dynamic/__main__.py);
# import costs are reported on top of these, since both sides pay them.
SERVER_IMPORTS = """\
import asyncio, base64, os, sys, traceback
from concurrent import futures
import dill, grpc
from google.protobuf import empty_pb2
from pulumi.metadata import get_project
from pulumi.runtime._serialization import _deserialize
from pulumi.runtime import configure, proto, rpc, Settings
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import provider_pb2_grpc, ResourceProviderServicer
from pulumi.dynamic import ResourceProvider, ConfigureRequest, Config
"""


# ------------------------------------------------------------------------------ helpers


def child_env() -> dict[str, str]:
    """The child's environment: this one minus GCORE_* settings, repo root on PYTHONPATH
    (the minimal provider is pickled by reference to ``benchmarks.minimal_provider``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GCORE_")}
    paths = [str(REPO), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def stack_config(emulator: GcoreEmulator, **extra: str) -> dict[str, str]:
    settings = {"gcore:retryBackoff": "0.01", "gcore:deadline": "60", **extra}
    return emulator.stack_config(PROJECT, REGION, **settings)


def rule_inputs(group: str, i: int) -> dict[str, Any]:
    """Rule number i: distinct from every other by its port (tcp 1000+i)."""
    port = 1000 + i
    return {
        "group_id": group,
        "direction": "ingress",
        "ethertype": "IPv4",
        "protocol": "tcp",
        "port_range_min": port,
        "port_range_max": port,
        "remote_ip_prefix": "10.0.0.0/8",
        "description": f"bench rule {i}",
    }


@contextmanager
def provider_process(
    provider: ResourceProvider | str, emulator: GcoreEmulator, **config: str
) -> Iterator[ProviderProcess]:
    """A started, configured provider process (one per CLI command); always stopped."""
    process = ProviderProcess(provider, env=child_env(), rpc_timeout=RPC_TIMEOUT)
    try:
        process.start()
        process.configure(stack_config(emulator, **config), secret_keys=["gcore:apiKey"])
        yield process
    finally:
        process.stop()


def run_parallel(
    fn: Callable[[int], Any], count: int, threads: int
) -> tuple[list[Any], list[BaseException]]:
    """fn(0..count-1) on a thread pool; results in order, exceptions collected."""
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            results[i] = fn(i)
        except Exception as error:
            errors.append(error)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, range(count)))
    return results, errors


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def interleaved(
    measure: Callable[[str], float], rounds: int, warmup: bool = True
) -> dict[str, list[float]]:
    """measure(side) for both sides, alternately, `rounds` times (order flips each round);
    an optional first round is thrown away (cold disk cache, lazy imports in this process)."""
    samples: dict[str, list[float]] = {side: [] for side in SIDES}
    for round_ in range(rounds + (1 if warmup else 0)):
        order = list(SIDES) if round_ % 2 == 0 else list(reversed(SIDES))
        for side in order:
            value = measure(side)
            if warmup and round_ == 0:
                continue
            samples[side].append(value)
    return samples


# ------------------------------------------------------------------- 1. pickled size


def blob_size(provider: ResourceProvider | None = None) -> int:
    """Characters of the `__provider` string the engine stores in every resource's state."""
    return len(serialize_provider(provider or SecurityGroupRuleProvider()))


# --------------------------------------------------------------------- 2. cold start


def cold_start(side: str, through_create: bool = False) -> float:
    """Seconds from spawning `python -m pulumi.dynamic` to the first answered Check
    (GetPluginInfo and Configure included, as the engine sends them first); with
    `through_create`, to the first answered Create after that Check."""
    with GcoreEmulator(api_key=API_KEY) as emulator:
        group = emulator.create_group(PROJECT, REGION)
        process = ProviderProcess(SIDES[side](), env=child_env(), rpc_timeout=RPC_TIMEOUT)
        try:
            started = time.perf_counter()
            process.start()
            process.configure(stack_config(emulator), secret_keys=["gcore:apiKey"])
            outcome = process.check(rule_inputs(group, 0))
            if through_create and not outcome.failures:
                process.create(outcome.inputs)
            elapsed = time.perf_counter() - started
        finally:
            process.stop()
        if outcome.failures:
            raise RuntimeError(f"{side}: check failed: {outcome.failures}")
        return elapsed


def import_profile(module: str, top: int = 10) -> list[tuple[str, int, int]]:
    """`python -X importtime`: (module, self us, cumulative us) of what `import <module>` adds
    on top of the SDK server's own imports, costliest (cumulative) first."""
    marker = "@@bench-marker@@"
    code = f"{SERVER_IMPORTS}\nsys.stderr.write({marker!r} + '\\n')\nimport {module}\n"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
        check=True,
    )
    rows: list[tuple[str, int, int]] = []
    seen = False
    for line in done.stderr.splitlines():
        if line.strip() == marker:
            seen = True
            continue
        if not seen or not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = line[len("import time:") :].split("|", 2)
        rows.append((name.rstrip(), int(own), int(cumulative)))
    rows.sort(key=lambda row: row[2], reverse=True)
    return rows[:top]


_CHECK_PATH_PROBE = """\
import json, time
before = set(sys.modules)
started = time.perf_counter()
blob = sys.argv[1]
provider = _deserialize(lambda: dill.loads(base64.b64decode(blob)))
config = {"gcore:apiKey": "k", "gcore:baseUrl": "http://127.0.0.1:9",
          "gcore:projectId": "1", "gcore:regionId": "1"}
provider.configure(ConfigureRequest(config=Config(raw_config=config, project_name="p")))
news = json.loads(sys.argv[2])
news["__provider"] = blob
checked = provider.check({}, news)
inputs = dict(checked.inputs)
inputs["__provider"] = blob
provider.diff("id", inputs, inputs)
elapsed = time.perf_counter() - started
print(json.dumps({"modules": sorted(set(sys.modules) - before), "seconds": elapsed}))
"""


def check_path_imports(side: str) -> dict[str, Any]:
    """Modules first imported, and seconds spent, by unpickle + configure + check + diff in
    a fresh interpreter that has already imported what the SDK's server imports."""
    blob = serialize_provider(SIDES[side]())
    news = json.dumps(rule_inputs("3f1b5c9e-8a2d-4c6f-9e7b-1a2b3c4d5e6f", 0))
    done = subprocess.run(
        [sys.executable, "-c", SERVER_IMPORTS + _CHECK_PATH_PROBE, blob, news],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ------------------------------------------------------------------ 3. per-call cost


def per_call(side: str, creates: int = 200, concurrency: int = 4) -> float:
    """Seconds per create RPC: `creates` creates, `concurrency` at a time, through one warm
    provider process (its inputs checked beforehand, one warm-up create not counted)."""
    with GcoreEmulator(api_key=API_KEY) as emulator:
        group = emulator.create_group(PROJECT, REGION)
        with provider_process(SIDES[side](), emulator) as process:
            inputs = [process.check(rule_inputs(group, i)).inputs for i in range(creates + 1)]
            process.create(inputs[creates])
            started = time.perf_counter()
            _, errors = run_parallel(lambda i: process.create(inputs[i]), creates, concurrency)
            elapsed = time.perf_counter() - started
        if errors:
            raise RuntimeError(f"{side}: {len(errors)} creates failed: {errors[0]!r}")
        if len(emulator.rules(group)) != creates + 1:
            raise RuntimeError(f"{side}: expected {creates + 1} rules")
        return elapsed / creates


# --------------------------------------------------------------- 4. refresh round trips


@dataclass
class RefreshReads:
    rules: int
    group_gets: int
    stale: list[str] = field(default_factory=list)

    @property
    def per_rule(self) -> float:
        return self.group_gets / self.rules


def up(
    process: ProviderProcess, group: str, count: int, threads: int = 8, first: int = 0
) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Check + Create for rules first..first+count-1: [(id, outputs, checked inputs)]."""

    def one(i: int) -> tuple[str, dict[str, Any], dict[str, Any]]:
        checked = process.check(rule_inputs(group, first + i))
        if checked.failures:
            raise RuntimeError(f"check failed: {checked.failures}")
        rule_id, outputs = process.create(checked.inputs)
        return rule_id, outputs, checked.inputs

    results, errors = run_parallel(one, count, threads)
    if errors:
        raise RuntimeError(f"{len(errors)} creates failed: {errors[0]!r}")
    return results


def refresh_reads(rules: int = 100, threads: int = 12) -> RefreshReads:
    """Refresh `rules` rules of one group from `threads` threads in one provider process and
    count the group GETs the emulator saw; then write through the same process and check
    that the next reads see the writes."""
    with GcoreEmulator(api_key=API_KEY) as emulator:
        group = emulator.create_group(PROJECT, REGION)
        with provider_process(SecurityGroupRuleProvider(), emulator) as process:
            state = up(process, group, rules)
        result = RefreshReads(rules=rules, group_gets=0)
        with provider_process(SecurityGroupRuleProvider(), emulator) as process:
            before = emulator.count("GET", GROUP_PATH)
            reads, errors = run_parallel(
                lambda i: process.read(state[i][0], state[i][1], state[i][2]), rules, threads
            )
            result.group_gets = emulator.count("GET", GROUP_PATH) - before
            if errors:
                result.stale.append(f"{len(errors)} reads failed: {errors[0]!r}")
            for (rule_id, outputs, _), read in zip(state, reads, strict=True):
                if read is None or read.id != rule_id or read.outputs != outputs:
                    result.stale.append(f"refresh of {rule_id} did not return it unchanged")
            # Writes through this process, each followed at once by a read (within the
            # read cache's freshness window): the read must see the write.
            gone_id, gone_outputs, gone_inputs = state[0]
            process.delete(gone_id, gone_outputs)
            if process.read(gone_id, gone_outputs, gone_inputs).id != "":
                result.stale.append(f"read after delete still found {gone_id}")
            [(new_id, new_outputs, new_inputs)] = up(process, group, 1, first=rules)
            again = process.read(new_id, new_outputs, new_inputs)
            if again.id != new_id or again.outputs != new_outputs:
                result.stale.append(f"read after create did not find {new_id}")
            # Someone else's write is seen by the next command (a new process).
            emulator.remove_rule(state[1][0])
        with provider_process(SecurityGroupRuleProvider(), emulator) as process:
            if process.read(state[1][0], state[1][1], state[1][2]).id != "":
                result.stale.append(f"a new process still found removed rule {state[1][0]}")
        return result


# ------------------------------------------------------------------ 5. preview has no I/O


def preview_requests(rules: int = 20) -> int:
    """HTTP requests made by a preview: Configure, then Check (known and unknown values) and
    Diff (unchanged, changed, unknown) for `rules` existing rules, in a new process."""
    with GcoreEmulator(api_key=API_KEY) as emulator:
        group = emulator.create_group(PROJECT, REGION)
        with provider_process(SecurityGroupRuleProvider(), emulator) as process:
            state = up(process, group, rules)
        emulator.clear_log()
        with provider_process(SecurityGroupRuleProvider(), emulator) as process:

            def preview(i: int) -> None:
                rule_id, outputs, _ = state[i]
                same = process.check(rule_inputs(group, i)).inputs
                changed = process.check({**rule_inputs(group, i), "description": "changed"})
                unknown = process.check({**rule_inputs(group, i), "remote_ip_prefix": UNKNOWN})
                assert process.diff(rule_id, outputs, same).changes == "none"
                assert process.diff(rule_id, outputs, changed.inputs).changes == "some"
                assert process.diff(rule_id, outputs, unknown.inputs).changes == "some"

            _, errors = run_parallel(preview, rules, 8)
            if errors:
                raise RuntimeError(f"preview failed: {errors[0]!r}")
        return len(emulator.requests)


# --------------------------------------------------------------------------- 6. scaling


@dataclass
class Scaling:
    rules: int
    create: float
    refresh: float
    destroy: float
    """Seconds per rule of each command's N resource operations, in steady state: process
    start and the command's first operation (lazy imports, first connection) excluded."""
    first: float = 0.0
    """Seconds of the three commands' first operations together (the fixed cost per command)."""


def scaling(rules: int, threads: int = SCALING_THREADS) -> Scaling:
    """up (Check + Create), refresh (Read) and destroy (Delete with the old outputs) of `rules`
    rules of one group, each command in its own provider process as with the CLI. Each
    command first handles one extra rule on its own, timed apart as the fixed cost."""
    with GcoreEmulator(api_key=API_KEY) as emulator:
        group = emulator.create_group(PROJECT, REGION)
        with provider_process(SecurityGroupRuleProvider(), emulator) as process:
            started = time.perf_counter()
            [extra] = up(process, group, 1, first=rules)
            first = time.perf_counter() - started
            started = time.perf_counter()
            state = up(process, group, rules, threads)
            create = time.perf_counter() - started
        with provider_process(SecurityGroupRuleProvider(), emulator) as process:
            started = time.perf_counter()
            process.read(*extra)
            first += time.perf_counter() - started
            started = time.perf_counter()
            reads, errors = run_parallel(lambda i: process.read(*state[i]), rules, threads)
            refresh = time.perf_counter() - started
        if errors or any(read.id != s[0] for read, s in zip(reads, state, strict=True)):
            raise RuntimeError(f"refresh of {rules} rules failed: {errors[:1]!r}")
        with provider_process(SecurityGroupRuleProvider(), emulator) as process:
            started = time.perf_counter()
            process.delete(extra[0], extra[1])
            first += time.perf_counter() - started
            started = time.perf_counter()
            _, errors = run_parallel(
                lambda i: process.delete(state[i][0], state[i][1]), rules, threads
            )
            destroy = time.perf_counter() - started
        if errors or emulator.rules(group):
            raise RuntimeError(f"destroy of {rules} rules failed: {errors[:1]!r}")
        return Scaling(rules, create / rules, refresh / rules, destroy / rules, first)


def scaling_medians(sizes: Sequence[int], rounds: int) -> dict[int, Scaling]:
    """scaling() for each size, sizes interleaved round by round; medians per phase."""
    samples: dict[int, list[Scaling]] = {n: [] for n in sizes}
    for _ in range(rounds):
        for n in sizes:
            samples[n].append(scaling(n))
    return {
        n: Scaling(
            n,
            median([s.create for s in runs]),
            median([s.refresh for s in runs]),
            median([s.destroy for s in runs]),
            median([s.first for s in runs]),
        )
        for n, runs in samples.items()
    }


# ------------------------------------------------------- 7, 8. security groups (issue 9)

TASK_GET = "/cloud/v1/tasks/"
"""Prefix of a task poll (the task list has no slash after ``tasks``)."""


@dataclass
class GroupCreate:
    after_post: float
    """Seconds from Gcore's answer to the POST to the provider's answer to Create."""
    whole: float
    """Seconds of the whole Create RPC (snapshot list, POST, task, GET of the group)."""
    polls: int


def group_create(task_seconds: float = 1.0) -> GroupCreate:
    """One group create through a warm provider process, its task taking `task_seconds`."""
    with GcoreEmulator(api_key=API_KEY) as emulator:
        posts: list[float] = []
        record = emulator._record

        def timed(entry: Any) -> None:  # the log entry is written just before the answer
            if entry.method == "POST":
                posts.append(time.perf_counter())
            record(entry)

        emulator._record = timed  # type: ignore[method-assign,assignment]
        with provider_process(SecurityGroupProvider(), emulator) as process:
            process.create(process.check({"name": "warm-up"}).inputs)  # imports, connection
            emulator.task_delays["create_security_group"] = task_seconds
            checked = process.check({"name": "bench"})
            polls_before = emulator.count("GET", TASK_GET)
            started = time.perf_counter()
            process.create(checked.inputs)
            ended = time.perf_counter()
        return GroupCreate(
            ended - posts[-1], ended - started, emulator.count("GET", TASK_GET) - polls_before
        )


@dataclass
class GroupProgram:
    program: float
    """Seconds to create 1 group, then its rules (as `pulumi up` orders them)."""
    parts: float
    """Seconds to create a group alone plus the same rules into an existing group."""
    refresh: float
    destroy: float


def group_program(rules: int = 50, threads: int = SCALING_THREADS) -> GroupProgram:
    """A program of 1 group + `rules` rules through one provider process serving both
    resource types (as the engine's does): up, refresh, destroy; and its parts apart."""
    group_provider = serialize_provider(SecurityGroupProvider())

    def make_group(process: ProviderProcess, name: str) -> tuple[str, dict[str, Any]]:
        checked = process.check({"__provider": group_provider, "name": name})
        group_id, outputs = process.create({**checked.inputs, "__provider": group_provider})
        return group_id, {**outputs, "__provider": group_provider}

    with GcoreEmulator(api_key=API_KEY) as emulator:
        with provider_process(SecurityGroupRuleProvider(), emulator) as process:
            warm_id, _ = make_group(process, "warm-up")
            up(process, warm_id, 1, first=rules)
            started = time.perf_counter()
            make_group(process, "alone")
            group_alone = time.perf_counter() - started
            started = time.perf_counter()
            up(process, warm_id, rules, threads)
            rules_alone = time.perf_counter() - started
            started = time.perf_counter()
            group_id, group_outputs = make_group(process, "program")
            state = up(process, group_id, rules, threads)
            program = time.perf_counter() - started
            started = time.perf_counter()
            reads, errors = run_parallel(
                lambda i: (
                    process.read(*state[i])
                    if i < rules
                    else process.read(group_id, group_outputs, group_outputs)
                ),
                rules + 1,
                threads,
            )
            refresh = time.perf_counter() - started
            if errors or any(read.id == "" for read in reads):
                raise RuntimeError(f"refresh of the program failed: {errors[:1]!r}")
            started = time.perf_counter()
            _, errors = run_parallel(
                lambda i: process.delete(state[i][0], state[i][1]), rules, threads
            )
            process.delete(group_id, group_outputs)
            destroy = time.perf_counter() - started
            if errors or any(g["id"] == group_id for g in emulator.groups()):
                raise RuntimeError(f"destroy of the program failed: {errors[:1]!r}")
        return GroupProgram(program, group_alone + rules_alone, refresh, destroy)


# ---------------------------------------------------------------------------- the table


@dataclass
class Row:
    target: str
    provider: str
    baseline: str
    ratio: str
    bound: str
    ok: bool
    info: bool = False
    """A figure for context, with no bound: never fails."""


# --------------------------------------------------------------------- 9. rules over v2


@dataclass
class RuleApiCost:
    create: float
    """Seconds per create, one at a time (a v2 create waits for its task)."""
    delete: float
    """Seconds per delete, one at a time."""
    group_reads_per_create: float
    """Group GETs per create when `concurrency` creates run at once in one group."""


def rule_api_cost(
    rule_api: str, rules: int = 10, concurrent: int = 40, task_seconds: float = 0.2
) -> RuleApiCost:
    """Per-rule create and delete latency with `gcore:ruleApi` = `rule_api` (tasks taking
    `task_seconds`), and the group reads of `concurrent` creates run 4 at a time."""
    with GcoreEmulator(api_key=API_KEY, task_delay=task_seconds) as emulator:
        group = emulator.create_group(PROJECT, REGION)
        with provider_process(
            SecurityGroupRuleProvider(), emulator, **{"gcore:ruleApi": rule_api}
        ) as process:
            inputs = [process.check(rule_inputs(group, i)).inputs for i in range(rules + 1)]
            process.create(inputs[rules])  # warm-up: imports, connection, snapshot
            made = []
            started = time.perf_counter()
            for i in range(rules):
                made.append(process.create(inputs[i]))
            create = (time.perf_counter() - started) / rules
            started = time.perf_counter()
            for rule_id, outputs in made:
                process.delete(rule_id, outputs)
            delete = (time.perf_counter() - started) / rules
            other = emulator.create_group(PROJECT, REGION)
            batch = [process.check(rule_inputs(other, i)).inputs for i in range(concurrent)]
            reads_before = emulator.count("GET", f"/cloud/v1/securitygroups/{PROJECT}/")
            _, errors = run_parallel(lambda i: process.create(batch[i]), concurrent, 4)
            reads = emulator.count("GET", f"/cloud/v1/securitygroups/{PROJECT}/") - reads_before
        if errors:
            raise RuntimeError(f"{rule_api}: {len(errors)} creates failed: {errors[0]!r}")
        return RuleApiCost(create, delete, reads / concurrent)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def _verdict(row: Row) -> str:
    return "info" if row.info else "PASS" if row.ok else "FAIL"


def print_table(rows: Sequence[Row]) -> None:
    header = ("target", "this provider", "baseline", "ratio", "bound", "result")
    cells = [header] + [
        (r.target, r.provider, r.baseline, r.ratio, r.bound, _verdict(r)) for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    line = "| " + " | ".join("-" * w for w in widths) + " |"
    for index, row in enumerate(cells):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            print(line)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller N and fewer rounds (CI)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per comparison")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 7)
    creates = 100 if args.quick else 200
    refresh_n = 50 if args.quick else 100
    sizes = (10, 100) if args.quick else (10, 100, 500)
    scaling_rounds = 1 if args.quick else 5
    started = time.perf_counter()
    rows: list[Row] = []

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    # 1. pickled size
    size, base_size = blob_size(), blob_size(MinimalProvider())
    rows.append(Row("1. __provider size", f"{size} chars", f"{base_size} chars", "-",
                    "<= 200 chars", size <= 200))  # fmt: skip

    # 2. cold start
    say(f"cold start: {rounds} interleaved rounds ...")
    cold = interleaved(cold_start, rounds)
    mine, theirs = median(cold["provider"]), median(cold["baseline"])
    rows.append(Row("2. cold start to first Check", _ms(mine), _ms(theirs),
                    f"{mine / theirs:.2f}", "<= 1.4", mine / theirs <= 1.4))  # fmt: skip

    # for information: the first Create pays the imports Check does not need
    say(f"cold start through the first create: {rounds} interleaved rounds ...")
    cold_create = interleaved(lambda side: cold_start(side, through_create=True), rounds)
    mine, theirs = median(cold_create["provider"]), median(cold_create["baseline"])
    rows.append(Row("2. (info) spawn to first Create", _ms(mine), _ms(theirs),
                    f"{mine / theirs:.2f}", "none", True, info=True))  # fmt: skip

    # 3. per-call overhead
    say(f"per-call: {creates} creates x {rounds} interleaved rounds ...")
    calls = interleaved(lambda side: per_call(side, creates, 4), rounds)
    mine, theirs = median(calls["provider"]), median(calls["baseline"])
    rows.append(Row(f"3. per create ({creates}, 4 concurrent)", _ms(mine), _ms(theirs),
                    f"{mine / theirs:.2f}", "<= 1.2", mine / theirs <= 1.2))  # fmt: skip

    # 4. refresh round trips
    say(f"refresh reads: {refresh_n} rules, 12 threads ...")
    reads = refresh_reads(refresh_n, 12)
    rows.append(Row(f"4. group GETs per rule refreshed (N={refresh_n})",
                    f"{reads.group_gets}/{reads.rules} = {reads.per_rule:.3f}",
                    "1 (a GET per Read)", f"{reads.per_rule:.3f}", "<= 0.1",
                    reads.per_rule <= 0.1))  # fmt: skip
    rows.append(Row("4. stale reads after a write", str(len(reads.stale)), "-", "-", "== 0",
                    not reads.stale))  # fmt: skip

    # 5. preview
    say("preview requests ...")
    requests_made = preview_requests(20)
    rows.append(Row("5. HTTP requests in check + diff (20 rules)", str(requests_made), "-", "-",
                    "== 0", requests_made == 0))  # fmt: skip

    # 6. scaling
    say(f"scaling: N={sizes} x {scaling_rounds} rounds ...")
    scale = scaling_medians(sizes, scaling_rounds)
    small, large = scale[sizes[0]], scale[sizes[-1]]
    for phase in ("create", "refresh", "destroy"):
        a, b = getattr(large, phase), getattr(small, phase)
        rows.append(Row(f"6. {phase} per rule, N={sizes[-1]} vs N={sizes[0]}", _ms(a),
                        f"{_ms(b)} (N={sizes[0]})", f"{a / b:.2f}", "<= 1.5",
                        a / b <= 1.5))  # fmt: skip

    # 7, 8. security groups
    say(f"group create with a 1 s task: {rounds} rounds ...")
    creates_g = [group_create(1.0) for _ in range(rounds)]
    after = median([c.after_post for c in creates_g])
    whole = median([c.whole for c in creates_g])
    polls = max(c.polls for c in creates_g)
    rows.append(Row("7. group create, 1 s task: POST answer to Create answer", _ms(after),
                    "3000 ms (SDK: first poll at 3 s)", f"{after / 3.0:.2f}", "<= 1.3 s",
                    after <= 1.3))  # fmt: skip
    rows.append(Row("7. group create, 1 s task: task polls (most of any round)", str(polls),
                    "-", "-", "<= 10", polls <= 10))  # fmt: skip
    rows.append(Row("7. (info) whole Create RPC (list + POST + task + GET)", _ms(whole), "-",
                    "-", "none", True, info=True))  # fmt: skip
    say(f"1 group + 50 rules: {scaling_rounds + 2} rounds ...")
    programs = [group_program(50) for _ in range(scaling_rounds + 2)]
    whole_up = median([p.program for p in programs])
    parts = median([p.parts for p in programs])
    rows.append(Row("8. up of 1 group + 50 rules vs its parts apart", _ms(whole_up),
                    f"{_ms(parts)} (parts)", f"{whole_up / parts:.2f}", "<= 1.3",
                    whole_up / parts <= 1.3))  # fmt: skip
    rows.append(Row("8. (info) refresh / destroy of 1 group + 50 rules",
                    f"{_ms(median([p.refresh for p in programs]))} / "
                    f"{_ms(median([p.destroy for p in programs]))}", "-", "-", "none", True,
                    info=True))  # fmt: skip

    # 9. rules over v2, beside v1
    say("rules over v1 and v2, 0.2 s tasks ...")
    costs = {api: rule_api_cost(api) for api in ("v1", "v2")}
    v1, v2 = costs["v1"], costs["v2"]
    rows.append(Row("9. v2 create per rule, 0.2 s task (v1 beside)", _ms(v2.create),
                    f"{_ms(v1.create)} (v1)", "-", "<= 0.35 s (task + 0.15 s)",
                    v2.create <= 0.35))  # fmt: skip
    rows.append(Row("9. v2 delete per rule, 0.2 s task (v1 beside)", _ms(v2.delete),
                    f"{_ms(v1.delete)} (v1)", "-", "<= 0.35 s (task + 0.15 s)",
                    v2.delete <= 0.35))  # fmt: skip
    rows.append(Row("9. v2 group GETs per create, 4 at once in one group",
                    f"{v2.group_reads_per_create:.2f}", f"{v1.group_reads_per_create:.2f} (v1)",
                    "-", "<= 0.75 (shared, not 1 each)",
                    v2.group_reads_per_create <= 0.75))  # fmt: skip

    # 10. rule sets (issue 17): at 30 ms and 0.3 s tasks, beside separate rules
    from benchmarks.sets import set_rows  # here: benchmarks.sets imports this module

    rows.extend(set_rows(rounds=1 if args.quick else 3, say=say))

    print()
    print_table(rows)
    print()
    print(
        f"Per-rule time by N, {SCALING_THREADS} threads, median of {scaling_rounds} rounds; "
        "steady state: process start and each command's first operation excluded (shown apart):"
    )
    print("| N | create | refresh | destroy | first op of up + refresh + destroy |")
    print("| - | - | - | - | - |")
    for n in sizes:
        s = scale[n]
        print(f"| {n} | {_ms(s.create)} | {_ms(s.refresh)} | {_ms(s.destroy)} | {_ms(s.first)} |")
    print()
    print("Samples (ms): cold start provider", [round(v * 1000) for v in cold["provider"]],
          "baseline", [round(v * 1000) for v in cold["baseline"]])  # fmt: skip
    print("Samples (ms): spawn to first Create provider",
          [round(v * 1000) for v in cold_create["provider"]],
          "baseline", [round(v * 1000) for v in cold_create["baseline"]])  # fmt: skip
    print("Samples (ms): per create provider", [round(v * 1000, 2) for v in calls["provider"]],
          "baseline", [round(v * 1000, 2) for v in calls["baseline"]])  # fmt: skip
    if reads.stale:
        print("Stale reads:", *reads.stale, sep="\n  ")
    print()
    print_imports()
    print(f"\nwall time {time.perf_counter() - started:.1f} s")
    failed = [r.target for r in rows if not r.ok]
    if failed:
        print("FAILED:", ", ".join(failed))
        return 1
    return 0


def print_imports() -> None:
    """The import side of cold start: what each provider adds to the SDK server's imports."""
    for side, module in (("provider", "gcore_pulumi"), ("baseline", "benchmarks.minimal_provider")):
        _print_profile(module)
        probe = check_path_imports(side)
        modules: list[str] = probe["modules"]
        heavy = [m for m in ("requests", "urllib3", "pydantic", "grpc") if m in modules]
        print(
            f"Check path (unpickle + configure + check + diff) in a fresh interpreter: "
            f"{probe['seconds'] * 1000:.1f} ms, {len(modules)} new modules; "
            f"heavy ones among them: {', '.join(heavy) or 'none'}"
        )
        own_modules = [m for m in modules if m.split(".")[0] in ("gcore_pulumi", "benchmarks")]
        print("  " + textwrap.fill(", ".join(own_modules), 96, subsequent_indent="  "))
        print()
    print("The provider's first create/read/delete imports the client (requests, pydantic):")
    _print_profile("gcore_pulumi.client")


def _print_profile(module: str) -> None:
    print(f"`python -X importtime`: import {module} (on top of the SDK server's imports),")
    print("top cumulative costs:")
    for name, own, cumulative in import_profile(module, 8):
        print(f"  {cumulative / 1000:7.1f} ms cumulative {own / 1000:6.1f} ms self  {name}")


if __name__ == "__main__":
    sys.exit(main())
