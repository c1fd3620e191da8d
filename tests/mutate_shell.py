"""Hand mutants of the shell that runs in pods (``make mutate-shell``).

No mutation tool reads POSIX sh, so ``tests/mutants/`` keeps realistic bugs of
``redis_files/redis.sh`` and ``backup_files/*.sh`` as patches (``git diff`` output, applied with
``git apply`` from the repository's root). Each opens with headers before its first ``diff --git``
(``git apply`` ignores that text)::

    Breaks: <the behaviour it breaks, one sentence>
    Killed-by: <pytest node ids, space separated: the live tests that must fail with it>
    Slow: yes                                   (optional: --quick leaves it out)

For each patch, the tracked tree is copied into a scratch directory, the patch applied there, and
its Killed-by tests run with ``CI=true`` (a missing binary fails rather than skips). Before any
mutant, the same tests run once on an unmutated copy: if that baseline fails, nothing is scored, as
a failure under a mutant would prove nothing.

    python -m tests.mutate_shell [--quick] [--report FILE] [NAME ...]   (NAME: only these patches)

Exit 0 only when every mutant is killed; 1 when one survived or could not be judged; 2 when
nothing could be scored (a patch that no longer applies, a failing baseline).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "tests" / "mutants"
DEFAULT_REPORT = Path("mutation-report") / "shell.md"
#: A live test that hangs under a mutant is reported as an error, not waited for all night.
TIMEOUT_SECONDS = 1800

KILLED, SURVIVED, ERROR = "killed", "survived", "error"


class MutantError(Exception):
    """A patch that cannot be used: the message names its file."""


@dataclass(frozen=True)
class Mutant:
    path: Path
    breaks: str
    killed_by: tuple[str, ...]
    slow: bool
    diff: str

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def targets(self) -> list[str]:
        """The files the patch changes, relative to the repository's root."""
        return re.findall(r"^diff --git a/(\S+) b/", self.diff, re.M)


def parse(path: Path) -> Mutant:
    text = path.read_text()
    header, sep, diff = text.partition("diff --git ")
    if not sep:
        raise MutantError(f"{rel(path)}: no `diff --git` (make it with `git diff`)")
    fields = dict(re.findall(r"^([A-Z][\w-]*):[ \t]*(.*?)\s*$", header, re.M))
    for key in ("Breaks", "Killed-by"):
        if not fields.get(key):
            raise MutantError(f"{rel(path)}: no `{key}:` header before the diff")
    return Mutant(path, fields["Breaks"], tuple(fields["Killed-by"].split()),
                  fields.get("Slow", "").lower() == "yes", sep + diff)


def mutants(directory: Path = MUTANTS) -> list[Mutant]:
    found = sorted(directory.glob("*.patch"))
    if not found:
        raise MutantError(f"{rel(directory)}: no *.patch")
    return [parse(p) for p in found]


def select(every: list[Mutant], quick: bool, names: list[str]) -> list[Mutant]:
    """The mutants to run: those named (all by default), less the slow ones with ``quick``."""
    unknown = set(names) - {m.name for m in every}
    if unknown:
        raise MutantError(f"no such patch in {rel(MUTANTS)}: {', '.join(sorted(unknown))}")
    return [m for m in every if not (quick and m.slow) and (not names or m.name in names)]


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def copy_tree(dest: Path) -> None:
    """The tracked files (and new ones not ignored) as they are in the working tree: no .venv, no
    caches, no earlier run's output."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is left out
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def apply(mutant: Mutant, tree: Path, check_only: bool = False) -> None:
    for target in mutant.targets:
        if not (tree / target).is_file():
            raise MutantError(f"{rel(mutant.path)}: its target {target} does not exist")
    argv = ["git", "apply", *(["--check"] if check_only else []), str(mutant.path)]
    done = subprocess.run(argv, cwd=tree, capture_output=True, text=True)
    if done.returncode != 0:
        raise MutantError(f"{rel(mutant.path)} no longer applies: {done.stderr.strip()}")


def verdict(returncode: int, output: str) -> str:
    """pytest's exit code 1 with a failed test is a kill; 0 is a survivor; anything else (an error
    in a fixture, no such test, interrupted, a timeout) says nothing about the mutant."""
    if returncode == 1 and re.search(r"\b\d+ failed\b", output):
        return KILLED
    if returncode == 0:
        return SURVIVED
    return ERROR


def run_tests(tree: Path, ids: list[str]) -> tuple[int, str]:
    env = {**os.environ, "CI": "true", "PYTHONDONTWRITEBYTECODE": "1"}
    argv = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *ids]
    # A session of its own: a live test signalling process groups cannot reach this runner, and a
    # timeout ends the servers the tests started along with pytest.
    with subprocess.Popen(argv, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          start_new_session=True) as pytest:
        try:
            output, _ = pytest.communicate(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(pytest.pid, signal.SIGKILL)
            output, _ = pytest.communicate()
            return -1, f"timed out after {TIMEOUT_SECONDS}s\n{output}"
    return pytest.returncode, output


@dataclass
class Result:
    mutant: Mutant
    verdict: str
    seconds: float
    output: str


def score(selected: list[Mutant], scratch: Path) -> list[Result]:
    baseline = scratch / "baseline"
    copy_tree(baseline)
    for m in selected:  # every patch checked before the long runs start
        apply(m, baseline, check_only=True)
    ids = list(dict.fromkeys(i for m in selected for i in m.killed_by))
    started = time.monotonic()
    code, output = run_tests(baseline, ids)
    if code != 0:
        raise MutantError(f"the baseline (the Killed-by tests on the unmutated scripts) fails, exit {code}: "
                          f"nothing scored\n{tail(output)}")
    print(f"baseline: {len(ids)} tests pass unmutated ({time.monotonic() - started:.0f}s)", flush=True)
    results = []
    for m in selected:
        tree = scratch / m.name
        copy_tree(tree)
        apply(m, tree)
        started = time.monotonic()
        code, output = run_tests(tree, list(m.killed_by))
        results.append(Result(m, verdict(code, output), time.monotonic() - started, output))
        print(f"{m.name}: {results[-1].verdict} ({results[-1].seconds:.0f}s)", flush=True)
        if results[-1].verdict == ERROR:
            print(tail(output), flush=True)
        shutil.rmtree(tree, ignore_errors=True)
    return results


def tail(output: str, lines: int = 15) -> str:
    return "\n".join(output.rstrip().splitlines()[-lines:])


def first_failure(output: str) -> str:
    """pytest's short summary line of the first test that failed (``-ra``), or nothing."""
    return next((line for line in output.splitlines() if line.startswith(("FAILED ", "ERROR "))), "")


def report(results: list[Result], quick: bool) -> str:
    killed = sum(r.verdict == KILLED for r in results)
    rows = [f"| `{r.mutant.name}` | {r.mutant.breaks} | {r.verdict} | {r.seconds:.0f} |" for r in results]
    why = [f"- `{r.mutant.name}`: {first_failure(r.output) or tail(r.output, 1)}" for r in results]
    left_out = " (`--quick`: the `Slow: yes` ones left out)" if quick else ""
    return "\n".join([
        f"# Hand mutants of the pod scripts, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        "| Patch | Breaks | Verdict | Seconds |",
        "|---|---|---|---|",
        *rows,
        "",
        f"Score: {killed} of {len(results)} killed ({100 * killed / len(results):.0f} %){left_out}; "
        f"{sum(r.seconds for r in results):.0f} s of tests.",
        "",
        "What failed under each mutant:",
        "",
        *why,
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutate_shell", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="leave out the mutants marked `Slow: yes`")
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT, help=f"default {DEFAULT_REPORT}")
    parser.add_argument("names", nargs="*", metavar="NAME", help="only these patches (file name without .patch)")
    args = parser.parse_args(argv)
    try:
        selected = select(mutants(), args.quick, args.names)
        with tempfile.TemporaryDirectory(prefix="mutate-shell-", ignore_cleanup_errors=True) as scratch:
            results = score(selected, Path(scratch))
    except MutantError as e:
        print(f"mutate-shell: {e}", file=sys.stderr)
        return 2
    text = report(results, args.quick)
    print("\n" + text)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(text)
    return 0 if all(r.verdict == KILLED for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
