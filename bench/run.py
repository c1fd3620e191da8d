"""What ``pulumi preview`` costs and how it grows: ``python bench/run.py [--runs N] [--quick] [--json-out FILE]``.

Prints a JSON report on stdout and a short table on stderr. Every timing is the median of
``--runs`` runs (default 5; the cheap in-process policy timings get at least 9), wall time,
fresh processes for the floor, render and check figures:

1. floor: a Python process that only imports what the program imports (pulumi and the
   pulumi_kubernetes / pulumi_random modules a prod render loads);
2. render: ``python -m gushen_infra.render --stack prod``, without and with ``--check``
   (policies in the same process), and their ratio to the floor;
3. policies: the pack on the prod render (in process, and ``python -m policies.check`` as a
   process) and on synthetic stacks of about 100, 1,000 and 5,000 objects;
4. program: the synthetic stacks evaluated under the mocks, time per object;
5. cold deploy: the modeled ``pulumi up`` on an empty namespace (bench/model.py).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import model, synthetic  # noqa: E402
from gushen_infra import render  # noqa: E402
from policies.base import Obj  # noqa: E402
from policies.catalog import evaluate  # noqa: E402

SIZES = (100, 1000, 5000)
QUICK_SIZES = (30, 100)
#: Rounds of the (cheap) in-process policy timings, at least.
POLICY_ROUNDS = 9
#: Targets of issue 7.
RENDER_RATIO_MAX = 1.5
POLICIES_1000_MAX_S = 1.0
GROWTH_1000_TO_5000_MAX = 6.0
#: Imports the floor process runs, one module name a line on stdin.
FLOOR_CODE = "import importlib, sys\nimport pulumi\nfor m in sys.stdin.read().split():\n    importlib.import_module(m)\n"
#: Prints the program's provider-SDK modules after a prod render (so the floor follows the code).
MODULES_CODE = (
    "import sys\nfrom gushen_infra import render\nrender.run_program('prod')\n"
    "print('\\n'.join(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi_kubernetes', 'pulumi_random'))))\n"
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def process_times(
    commands: dict[str, list[str]], runs: int, stdin: dict[str, str], warm_up: bool = False
) -> dict[str, list[float]]:
    """Wall time of each command as a fresh process, ``runs`` times (after an uncounted warm-up round if asked).

    Rounds interleave the commands, so a burst of load on the machine hits all of them alike
    (the ratios matter more than the absolute times).
    """
    times: dict[str, list[float]] = {name: [] for name in commands}
    for i in range(-1 if warm_up else 0, runs):
        for name, cmd in commands.items():
            started = time.perf_counter()
            result = subprocess.run(
                cmd, cwd=ROOT, input=stdin.get(name, ""), capture_output=True, text=True, timeout=300
            )
            elapsed = time.perf_counter() - started
            if result.returncode not in (0, 1):  # 1: a mandatory violation, still a full run
                raise RuntimeError(f"{' '.join(cmd)} exited {result.returncode}: {result.stderr.strip()[-2000:]}")
            if i >= 0:
                times[name].append(elapsed)
    return times


def call_times(fn: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    """In-process wall time of ``fn()``, ``runs`` times, each from a collected heap; the last result."""
    times, result = [], None
    for _ in range(runs):
        result = None
        gc.collect()
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return times, result


def floor_modules() -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", MODULES_CODE], cwd=ROOT, capture_output=True, text=True, timeout=300, check=True
    ).stdout
    return out.split()


def check_objects(docs: list[dict[str, Any]]) -> Callable[[], int]:
    """What ``policies.check`` does after loading: manifests to objects to violations."""

    def run() -> int:
        return len(evaluate([Obj.from_manifest(d) for d in docs]))

    return run


def figure(times: list[float], **extra: Any) -> dict[str, Any]:
    return {"median_s": median(times), "min_s": min(times), "runs_s": times, **extra}


def bench_processes(runs: int, out: Path) -> dict[str, Any]:
    """The fresh-process figures; ``floor_modules`` has just imported everything, so bytecode
    and page cache are warm and no warm-up round is needed."""
    py = sys.executable
    modules = floor_modules()
    render_cmd = [py, "-m", "gushen_infra.render", "--stack", "prod", "--out", str(out)]
    log(f"processes, {runs} rounds: floor (pulumi + {len(modules)} pulumi_kubernetes/pulumi_random modules), "
        "render, render --check, policies.check")
    times = process_times(
        {
            "floor": [py, "-c", FLOOR_CODE],
            "render": render_cmd,
            "render_check": [*render_cmd, "--check"],
            "check": [py, "-m", "policies.check", str(out / "manifests.yaml")],
        },
        runs,
        stdin={"floor": "\n".join(modules)},
    )
    f = median(times["floor"])
    return {
        "floor": figure(times["floor"], modules=len(modules) + 1),
        **{name: figure(times[name], ratio_to_floor=median(times[name]) / f) for name in ("render", "render_check")},
        "policies_check_process": figure(times["check"]),
        "render_then_check_process_s": median(times["render"]) + median(times["check"]),
    }


def bench_scale(sizes: Sequence[int], runs: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Program evaluation, then the policies, on a synthetic stack of about each size."""
    program, stacks = [], {}
    for target in sizes:
        copies = synthetic.copies_for(target)
        log(f"synthetic stack of ~{target} objects ({copies} copies): program under mocks, {runs} runs")
        times, recs = call_times(lambda: synthetic.run(copies), runs)
        stacks[target] = render.manifests(recs)
        n = len(stacks[target])
        program.append(
            {"target": target, "objects": n, "registrations": len(recs), **figure(times),
             "ms_per_object": 1000 * median(times) / n}
        )
        del recs
        log(f"  {n} objects: {median(times):.2f}s, {program[-1]['ms_per_object']:.2f} ms/object")
    # Cheap enough to run more often; rounds interleave the sizes, so the growth ratios do not
    # depend on which size a burst of load on the machine happened to hit.
    rounds = max(runs, POLICY_ROUNDS)
    log(f"policies on each stack, {rounds} rounds")
    ptimes: dict[int, list[float]] = {target: [] for target in sizes}
    for _ in range(rounds):
        for target in sizes:
            ptimes[target] += call_times(check_objects(stacks[target]), 1)[0]
    policies = [
        {"target": t, "objects": len(stacks[t]), **figure(ptimes[t]), "objects_per_s": len(stacks[t]) / median(ptimes[t])}
        for t in sizes
    ]
    for rows in (program, policies):
        for prev, row in zip(rows, rows[1:]):
            row["growth_vs_previous"] = row["median_s"] / prev["median_s"]
            row["objects_growth"] = row["objects"] / prev["objects"]
    return program, policies


def bench_prod(runs: int) -> dict[str, Any]:
    recs = render.run_program("prod")
    docs = render.manifests(recs)
    times, _ = call_times(check_objects(docs), max(runs, POLICY_ROUNDS))
    plan = model.model(recs)
    return {
        "policies": {"objects": len(docs), **figure(times)},
        "cold_deploy": {**plan.as_dict(), "timing": vars(model.Timing())},
    }


def targets(report: dict[str, Any]) -> dict[str, Optional[bool]]:
    by_target = {row["target"]: row for row in report["policies"]["synthetic"]}
    p1000, p5000 = by_target.get(1000), by_target.get(5000)
    return {
        "render_check_within_1_5x_floor": report["render_check"]["ratio_to_floor"] <= RENDER_RATIO_MAX,
        "policies_1000_under_1s": p1000["median_s"] < POLICIES_1000_MAX_S if p1000 else None,
        "policies_growth_1000_to_5000_within_6x": (
            p5000["median_s"] / p1000["median_s"] <= GROWTH_1000_TO_5000_MAX if p1000 and p5000 else None
        ),
    }


def table(report: dict[str, Any]) -> str:
    lines = [
        f"{'figure':<44}{'median':>10}{'ratio':>9}",
        f"{'floor (imports only)':<44}{report['floor']['median_s']:>9.2f}s{1:>9.2f}",
        f"{'render prod':<44}{report['render']['median_s']:>9.2f}s{report['render']['ratio_to_floor']:>9.2f}",
        f"{'render prod --check (policies in process)':<44}{report['render_check']['median_s']:>9.2f}s"
        f"{report['render_check']['ratio_to_floor']:>9.2f}",
        f"{'policies.check process, prod':<44}{report['policies_check_process']['median_s']:>9.2f}s",
        f"{'policies in process, prod':<44}{report['policies']['prod']['median_s'] * 1000:>8.1f}ms",
        "",
        f"{'objects':>8}{'program':>10}{'ms/obj':>8}{'growth':>8}{'policies':>10}{'obj/s':>9}{'growth':>8}",
    ]
    for prog, pol in zip(report["program"], report["policies"]["synthetic"]):
        lines.append(
            f"{prog['objects']:>8}{prog['median_s']:>9.2f}s{prog['ms_per_object']:>8.2f}"
            f"{prog.get('growth_vs_previous', 1):>7.2f}x{pol['median_s'] * 1000:>8.0f}ms{pol['objects_per_s']:>9.0f}"
            f"{pol.get('growth_vs_previous', 1):>7.2f}x"
        )
    deploy = report["cold_deploy"]
    lines += [
        "",
        f"cold deploy (modeled): every workload Ready at {deploy['workloads_ready_s']:.1f}s, "
        f"pulumi up done at {deploy['pulumi_up_done_s']:.1f}s",
        "  chain: " + " -> ".join(f"{s['resource']} ({s['done_s']:g}s)" for s in deploy["chain"]),
        "targets: " + ", ".join(f"{k}={'n/a' if v is None else ('met' if v else 'MISSED')}"
                                for k, v in report["targets"].items()),
    ]
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/run.py", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=None, help="runs per figure, medians reported (default 5; 3 with --quick)")
    parser.add_argument(
        "--quick", action="store_true", help=f"smoke run: stacks of {QUICK_SIZES} objects, 3 runs"
    )
    parser.add_argument("--json-out", type=Path, help="also write the JSON report to this file")
    args = parser.parse_args(argv)
    runs = args.runs if args.runs is not None else (3 if args.quick else 5)
    if runs < 1:
        parser.error(f"--runs must be at least 1, got {runs}")
    sizes = QUICK_SIZES if args.quick else SIZES
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gushen-bench-") as tmp:
        report: dict[str, Any] = {
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
            "runs": runs,
            "quick": args.quick,
            **bench_processes(runs, Path(tmp)),
        }
    prod = bench_prod(runs)
    program, scaled = bench_scale(sizes, runs)
    report.update(program=program, policies={"prod": prod["policies"], "synthetic": scaled},
                  cold_deploy=prod["cold_deploy"])
    report["targets"] = targets(report)
    report["elapsed_s"] = time.perf_counter() - started
    text = json.dumps(report, indent=2)
    if args.json_out:
        args.json_out.write_text(text + "\n")
    print(text)
    log(table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
