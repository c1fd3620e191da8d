"""What ``pulumi preview`` costs and how it grows: ``python bench/run.py [--runs N] [--quick] [--json-out FILE]``.

Prints a JSON report on stdout and a short table on stderr. Every timing is the median of
``--runs`` runs (default 5; the cheap in-process policy timings get at least 9), wall time,
fresh processes for the floor, render and check figures:

1. floors: a Python process that only imports what the program needs (``floor_user``:
   pulumi, pulumi_random and the pulumi_kubernetes apps/v1, core/v1 and apiextensions
   packages), and one that imports every pulumi_kubernetes / pulumi_random module a prod
   render happens to load today (``floor``);
2. render: ``python -m gushen_infra.render --stack prod``, without and with ``--check``
   (policies in the same process), and their ratios to both floors;
3. policies: the pack on the prod render (in process, and ``python -m policies.check`` as a
   process) and on synthetic stacks of about 100, 1,000 and 5,000 objects;
4. policies.check files: ``python -m policies.check`` as a process on 1,000 and 5,000 objects
   (the prod render repeated under new names, ``synthetic.repeat``), and checkov on the
   1,000-object file where it is installed (``--checkov``, ``$CHECKOV`` or ``checkov`` on PATH);
5. program: the synthetic stacks evaluated under the mocks, time per object;
6. cold deploy: the modeled ``pulumi up`` on an empty namespace (bench/model.py), beside the
   same deploy measured on a real control plane with a played kubelet (bench/kube_deploy.py).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional

import yaml

ROOT = Path(__file__).resolve().parent.parent
#: The prod stack's policy config (generated from Pulumi.prod.yaml): the pack has no nodes of its own.
POLICY_CONFIG = ROOT / "policies" / "config.prod.json"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import kube_deploy, model, synthetic  # noqa: E402
from gushen_infra import render  # noqa: E402
from policies.base import Obj  # noqa: E402
from policies.catalog import RULES, evaluate  # noqa: E402
from policies.config import resolve  # noqa: E402

SIZES = (100, 1000, 5000)
QUICK_SIZES = (30, 100)
#: Rounds of the (cheap) in-process policy timings, at least.
POLICY_ROUNDS = 9
#: Sizes of the manifest files ``policies.check`` (and checkov, on the first) is timed on.
CHECK_SIZES = (1000, 5000)
QUICK_CHECK_SIZES = (100, 200)
#: Targets of issues 7 and 15.
RENDER_RATIO_MAX = 1.5
POLICIES_1000_MAX_S = 1.0
GROWTH_1000_TO_5000_MAX = 5.5
CHECKOV_SPEEDUP_MIN = 20.0
#: What the program needs from the provider SDKs: the floor that matters to a user (issue 15).
USER_FLOOR_MODULES = (
    "pulumi", "pulumi_random", "pulumi_kubernetes.apps.v1", "pulumi_kubernetes.core.v1",
    "pulumi_kubernetes.apiextensions",
)
USER_FLOOR_CODE = "import " + ", ".join(USER_FLOOR_MODULES)
#: checkov on one file: its Kubernetes checks, failures only, no download of Bridgecrew's policies.
CHECKOV_ARGS = ("--framework", "kubernetes", "--quiet", "--compact", "--skip-download")
#: The project's own packages, compiled before the process rounds (:func:`compile_project`).
PROJECT_PACKAGES = ("gushen_infra", "policies")
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
    (the ratios matter more than the absolute times). Each command's CPU time (user + system,
    the process and its children) lands under ``"<name> cpu"``: on a loaded machine it tells
    what a process costs where wall time also counts the wait for a core.
    """
    times: dict[str, list[float]] = {key: [] for name in commands for key in (name, f"{name} cpu")}
    for i in range(-1 if warm_up else 0, runs):
        for name, cmd in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            result = subprocess.run(
                cmd, cwd=ROOT, input=stdin.get(name, ""), capture_output=True, text=True, timeout=600
            )
            elapsed = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if result.returncode not in (0, 1):  # 1: a mandatory violation, still a full run
                raise RuntimeError(f"{' '.join(cmd)} exited {result.returncode}: {result.stderr.strip()[-2000:]}")
            if i >= 0:
                times[name].append(elapsed)
                times[f"{name} cpu"].append(
                    after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                )
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
    settings = resolve(json.loads(POLICY_CONFIG.read_text()), RULES)

    def run() -> int:
        return len(evaluate([Obj.from_manifest(d) for d in docs], settings))

    return run


def figure(times: list[float], cpu: Optional[list[float]] = None, **extra: Any) -> dict[str, Any]:
    """A timing's median, minimum and runs (wall), and for a process its CPU time alike."""
    out = {"median_s": median(times), "min_s": min(times), "runs_s": times}
    if cpu is not None:
        out.update(cpu_median_s=median(cpu), cpu_runs_s=cpu)
    return {**out, **extra}


def compile_project() -> dict[str, Any]:
    """Cache the project's bytecode, as the floor's site-packages have theirs (pip compiles on install).

    Python writes it on a first import, unless ``PYTHONDONTWRITEBYTECODE`` is set (it is on some
    CI machines and sandboxes): then every process recompiles the project's sources (≈ 0.08 s of
    a render), a cost a user's second run never pays and the floor never pays at all.
    """
    import compileall

    for package in PROJECT_PACKAGES:
        if not compileall.compile_dir(str(ROOT / package), quiet=1):
            raise RuntimeError(f"python -m compileall {package} failed")
    return {"precompiled": list(PROJECT_PACKAGES),
            "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE")}


def bench_processes(runs: int, out: Path) -> dict[str, Any]:
    """The fresh-process figures; ``floor_modules`` has just imported everything, so bytecode
    and page cache are warm and no warm-up round is needed."""
    py = sys.executable
    modules = floor_modules()
    render_cmd = [py, "-m", "gushen_infra.render", "--stack", "prod", "--out", str(out)]
    log(f"processes, {runs} rounds: floors (user: {len(USER_FLOOR_MODULES)} imports; pulumi + {len(modules)} "
        "pulumi_kubernetes/pulumi_random modules), render, render --check, policies.check")
    times = process_times(
        {
            "floor_user": [py, "-c", USER_FLOOR_CODE],
            "floor": [py, "-c", FLOOR_CODE],
            "render": render_cmd,
            "render_check": [*render_cmd, "--check"],
            "check": [py, "-m", "policies.check", str(out / "manifests.yaml"), "--config", str(POLICY_CONFIG)],
        },
        runs,
        stdin={"floor": "\n".join(modules)},
    )
    f, user = median(times["floor"]), median(times["floor_user"])
    user_cpu = median(times["floor_user cpu"])
    return {
        "floor_user": figure(times["floor_user"], times["floor_user cpu"], imports=list(USER_FLOOR_MODULES)),
        "floor": figure(times["floor"], times["floor cpu"], modules=len(modules) + 1),
        **{
            name: figure(times[name], times[f"{name} cpu"], ratio_to_floor=median(times[name]) / f,
                         ratio_to_user_floor=median(times[name]) / user,
                         cpu_ratio_to_user_floor=median(times[f"{name} cpu"]) / user_cpu)
            for name in ("render", "render_check")
        },
        "policies_check_process": figure(times["check"], times["check cpu"]),
        "render_then_check_process_s": median(times["render"]) + median(times["check"]),
    }


def find_checkov(given: Optional[str]) -> Optional[str]:
    """checkov's executable: ``--checkov``, else ``$CHECKOV``, else ``checkov`` on PATH; ``None`` if absent."""
    for source, candidate in (("--checkov", given), ("$CHECKOV", os.environ.get("CHECKOV"))):
        if candidate:
            found = shutil.which(candidate)
            if not found:
                raise SystemExit(f"bench/run.py: {source} {candidate}: no such executable")
            return found
    return shutil.which("checkov")


def bench_check_files(
    docs: list[dict[str, Any]], sizes: Sequence[int], runs: int, tmp: Path,
    checkov: Optional[str], checkov_runs: int,
) -> dict[str, Any]:
    """``python -m policies.check`` as a process on files of ``sizes`` objects, and checkov on the first.

    Both read the same YAML file from disk: process start, imports and YAML parsing count.
    """
    py = sys.executable
    files: dict[int, Path] = {}
    for size in sizes:
        files[size] = tmp / f"manifests-{size}.yaml"
        with files[size].open("w") as handle:
            yaml.dump_all(synthetic.repeat(docs, size), handle, Dumper=render.SafeDumper,
                                 sort_keys=False, default_flow_style=False, width=120)
    log(f"policies.check processes on {', '.join(map(str, sizes))} objects, {runs} rounds")
    times = process_times({str(n): [py, "-m", "policies.check", str(files[n]), "--config", str(POLICY_CONFIG)]
                           for n in sizes}, runs, stdin={})
    rows = []
    for n in sizes:
        rows.append({"objects": n, "bytes": files[n].stat().st_size, **figure(times[str(n)], times[f"{n} cpu"]),
                     "ms_per_object": 1000 * median(times[str(n)]) / n})
    for prev, row in zip(rows, rows[1:]):
        row["growth_vs_previous"] = row["median_s"] / prev["median_s"]
        row["objects_growth"] = row["objects"] / prev["objects"]
    first = rows[0]
    result: dict[str, Any] = {"files": rows}
    if checkov is None:
        note = "checkov not found (pass --checkov PATH, set $CHECKOV, or put checkov on PATH)"
        log(f"checkov: skipped, {note}")
        result["checkov"] = {"skipped": note}
        return result
    version = subprocess.run([checkov, "--version"], capture_output=True, text=True, timeout=120).stdout.strip()
    log(f"checkov {version} on {first['objects']} objects, {checkov_runs} rounds (policies.check interleaved)")
    paired = process_times(
        {"check": [py, "-m", "policies.check", str(files[first["objects"]])],
         "checkov": [checkov, "-f", str(files[first["objects"]]), *CHECKOV_ARGS]},
        checkov_runs, stdin={},
    )
    result["checkov"] = {
        "path": checkov, "version": version, "objects": first["objects"], "args": list(CHECKOV_ARGS),
        **figure(paired["checkov"], paired["checkov cpu"]),
        "policies_check": figure(paired["check"], paired["check cpu"]),
        "speedup": median(paired["checkov"]) / median(paired["check"]),
        "cpu_speedup": median(paired["checkov cpu"]) / median(paired["check cpu"]),
    }
    return result


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


def bench_prod(runs: int, quick: bool = False) -> dict[str, Any]:
    recs = render.run_program("prod")
    docs = render.manifests(recs)
    times, _ = call_times(check_objects(docs), max(runs, POLICY_ROUNDS))
    plan = model.model(recs)
    return {
        "policies": {"objects": len(docs), **figure(times)},
        "cold_deploy": {**plan.as_dict(), "timing": vars(model.Timing()), "measured_on_control_plane":
                        {"skipped": "--quick"} if quick else kube_deploy.cold_deploy(runs)},
        "docs": docs,
    }


def targets(report: dict[str, Any]) -> dict[str, Optional[bool]]:
    by_target = {row["target"]: row for row in report["policies"]["synthetic"]}
    p1000, p5000 = by_target.get(1000), by_target.get(5000)
    checkov = report["policies_check_files"]["checkov"]
    return {
        "render_check_within_1_5x_user_floor": report["render_check"]["ratio_to_user_floor"] <= RENDER_RATIO_MAX,
        "render_check_within_1_5x_floor": report["render_check"]["ratio_to_floor"] <= RENDER_RATIO_MAX,
        "policies_1000_under_1s": p1000["median_s"] < POLICIES_1000_MAX_S if p1000 else None,
        "policies_growth_1000_to_5000_within_5_5x": (
            p5000["median_s"] / p1000["median_s"] <= GROWTH_1000_TO_5000_MAX if p1000 and p5000 else None
        ),
        "policies_check_1000_20x_faster_than_checkov": (
            checkov["speedup"] >= CHECKOV_SPEEDUP_MIN if "speedup" in checkov and checkov["objects"] == 1000 else None
        ),
    }


def measured_line(measured: dict[str, Any]) -> str:
    if "skipped" in measured:
        return f"cold deploy (real control plane): skipped ({measured['skipped']})"
    return (f"cold deploy (real control plane, kubelet played: instantaneous): applied at "
            f"{measured['applied_median_s']:.1f}s, every workload Ready at {measured['workloads_ready_median_s']:.1f}s")


def checkov_line(checkov: dict[str, Any]) -> str:
    if "skipped" in checkov:
        return f"checkov: skipped ({checkov['skipped']})"
    return (f"checkov {checkov['version']}, {checkov['objects']:,} objects: {checkov['median_s']:.2f}s vs "
            f"{checkov['policies_check']['median_s']:.2f}s for policies.check: {checkov['speedup']:.1f}x "
            f"({checkov['cpu_speedup']:.1f}x in CPU time)")


def table(report: dict[str, Any]) -> str:
    lines = [
        "wall time, medians (CPU time in the JSON: cpu_median_s)",
        f"{'figure':<44}{'median':>10}{'/user':>9}{'/floor':>9}{'cpu/user':>10}",
        f"{'floor, user (what the program needs)':<44}{report['floor_user']['median_s']:>9.2f}s{1:>9.2f}",
        f"{'floor (every provider module a render loads)':<44}{report['floor']['median_s']:>9.2f}s{'':>9}{1:>9.2f}",
        *(
            f"{label:<44}{report[key]['median_s']:>9.2f}s{report[key]['ratio_to_user_floor']:>9.2f}"
            f"{report[key]['ratio_to_floor']:>9.2f}{report[key]['cpu_ratio_to_user_floor']:>10.2f}"
            for key, label in (("render", "render prod"), ("render_check", "render prod --check (policies in process)"))
        ),
        f"{'policies.check process, prod':<44}{report['policies_check_process']['median_s']:>9.2f}s",
        f"{'policies in process, prod':<44}{report['policies']['prod']['median_s'] * 1000:>8.1f}ms",
        *(
            f"{'policies.check process, ' + format(row['objects'], ',') + ' objects':<44}{row['median_s']:>9.2f}s"
            f"  {row['ms_per_object']:.2f} ms/object" + (f", growth {row['growth_vs_previous']:.2f}x"
                                                        if "growth_vs_previous" in row else "")
            for row in report["policies_check_files"]["files"]
        ),
        checkov_line(report["policies_check_files"]["checkov"]),
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
        measured_line(deploy.get("measured_on_control_plane", {"skipped": "not measured"})),
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
    parser.add_argument(
        "--checkov", metavar="PATH", help="checkov executable to compare with (default: $CHECKOV, else checkov on PATH)"
    )
    parser.add_argument("--no-checkov", action="store_true", help="skip the checkov comparison")
    parser.add_argument(
        "--checkov-runs", type=int, default=3, help="rounds of the checkov comparison, medians reported (default 3)"
    )
    args = parser.parse_args(argv)
    runs = args.runs if args.runs is not None else (3 if args.quick else 5)
    if runs < 1:
        parser.error(f"--runs must be at least 1, got {runs}")
    if args.checkov_runs < 1:
        parser.error(f"--checkov-runs must be at least 1, got {args.checkov_runs}")
    checkov = None if args.no_checkov else find_checkov(args.checkov)
    sizes = QUICK_SIZES if args.quick else SIZES
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gushen-bench-") as tmp:
        report: dict[str, Any] = {
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                        "load_average": list(os.getloadavg()), "bytecode": compile_project()},
            "runs": runs,
            "quick": args.quick,
            **bench_processes(runs, Path(tmp)),
        }
        prod = bench_prod(runs, args.quick)
        report["policies_check_files"] = bench_check_files(
            prod.pop("docs"), QUICK_CHECK_SIZES if args.quick else CHECK_SIZES, runs, Path(tmp), checkov,
            args.checkov_runs,
        )
    program, scaled = bench_scale(sizes, runs)
    report.update(program=program, policies={"prod": prod["policies"], "synthetic": scaled},
                  cold_deploy=prod["cold_deploy"])
    report["targets"] = targets(report)
    report["machine"]["load_average_after"] = list(os.getloadavg())
    report["elapsed_s"] = time.perf_counter() - started
    text = json.dumps(report, indent=2)
    if args.json_out:
        args.json_out.write_text(text + "\n")
    print(text)
    log(table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
