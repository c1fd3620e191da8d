"""`make mutate`: mutmut over the code that decides what is deployed, scored and reported.

mutmut (pyproject.toml's ``[tool.mutmut]``) does the work: it copies the sources into
``mutants/``, records once which tests reach which function, then runs each mutant against only
those of its module's own tests (tests/mutation_scope.py), in workers forked from a server process
that collected the tests once (tests/mutation_session.py), and keeps every verdict in ``mutants/``
so the next run retests only the functions that changed. This module runs it, then scores what
it left there: detected (killed, timed out) over every mutant that is not listed as equivalent
in docs/testing.md. "No tests" and survivors count against the score, and so does anything the
tool could not judge.

    python -m tests.mutate [--max-children N] [--report FILE] [--min-score PCT] [--no-run]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .mutation_scope import module_of

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
TESTING_DOC = ROOT / "docs" / "testing.md"
DEFAULT_REPORT = ROOT / "mutation-report" / "python.md"
MIN_SCORE = 95.0

#: mutmut's exit codes (mutmut/stats.py status_by_exit_code), as this score reads them.
DETECTED = {"killed", "timeout", "caught by type check"}
UNDETECTED = {"survived", "no tests"}

#: A row of docs/testing.md's table of equivalent mutants: | `mutant name` | why |
_EQUIVALENT_ROW = re.compile(r"^\|\s*`(?P<name>[\w.ǁ]+__mutmut_\d+)`\s*\|(?P<why>[^|]+)\|")


def status_of(exit_code: int | None) -> str:
    from mutmut.stats import status_by_exit_code

    return status_by_exit_code[exit_code]


def equivalents(doc: Path | None = None) -> dict[str, str]:
    """Mutant name -> the reason docs/testing.md gives for it changing no behaviour."""
    found = {}
    for line in (doc or TESTING_DOC).read_text(encoding="utf-8").splitlines():
        if match := _EQUIVALENT_ROW.match(line):
            found[match["name"]] = match["why"].strip()
    return found


@dataclass
class Score:
    by_status: Counter = field(default_factory=Counter)
    by_module: dict[str, Counter] = field(default_factory=dict)
    undetected: list[str] = field(default_factory=list)
    stale_equivalents: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.by_status.values()) - self.by_status["equivalent"]

    @property
    def detected(self) -> int:
        return sum(self.by_status[s] for s in DETECTED)

    @property
    def percent(self) -> float:
        return 100.0 * self.detected / self.total if self.total else 0.0


def score(results: dict[str, int | None], equivalent: dict[str, str]) -> Score:
    """Score mutmut's verdicts; a listed equivalent that was killed anyway is stale, not excused."""
    out = Score()
    for name, code in sorted(results.items()):
        status = status_of(code)
        if name in equivalent:
            if status in DETECTED:
                out.stale_equivalents.append(name)
            else:
                status = "equivalent"
        out.by_status[status] += 1
        out.by_module.setdefault(module_of(name), Counter())[status] += 1
        if status not in DETECTED and status != "equivalent":
            out.undetected.append(name)
    return out


def results(mutants: Path | None = None) -> dict[str, int | None]:
    """Every mutant's exit code, from the .meta files mutmut writes beside each mutated file."""
    found: dict[str, int | None] = {}
    for meta in sorted((mutants or MUTANTS).rglob("*.py.meta")):
        found.update(json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"])
    return found


def reopen_undetected(mutants: Path | None = None) -> int:
    """Clear the verdict of every mutant not detected last time, so this run tests it again.

    mutmut keeps every verdict until the mutated function changes; a survivor would stay one after
    a test that kills it was added. Detected verdicts stand (the weekly run starts from scratch).
    """
    reopened = 0
    for meta in sorted((mutants or MUTANTS).rglob("*.py.meta")):
        data = json.loads(meta.read_text(encoding="utf-8"))
        codes = data["exit_code_by_key"]
        stale = [k for k, code in codes.items() if code is not None and status_of(code) not in DETECTED]
        for key in stale:
            codes[key] = None
        if stale:
            meta.write_text(json.dumps(data, indent=4), encoding="utf-8")
            reopened += len(stale)
    return reopened


def report(result: Score, seconds: float | None) -> str:
    lines = [
        "# Mutation score (mutmut)",
        "",
        f"**{result.percent:.1f} %**: {result.detected} of {result.total} mutants detected"
        + (f", run in {seconds:.0f} s" if seconds is not None else "")
        + f"; {result.by_status['equivalent']} listed as equivalent in docs/testing.md.",
        "",
        "| module | mutants | detected | survived | no tests | other | score |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for module, counts in sorted(result.by_module.items()):
        total = sum(counts.values()) - counts["equivalent"]
        detected = sum(counts[s] for s in DETECTED)
        other = total - detected - counts["survived"] - counts["no tests"]
        percent = f"{100.0 * detected / total:.1f} %" if total else "-"
        lines.append(f"| `{module}` | {total} | {detected} | {counts['survived']} | {counts['no tests']} "
                     f"| {other} | {percent} |")
    if result.undetected:
        lines += ["", "## Not detected (`.venv/bin/mutmut show NAME` prints the change)", ""]
        lines += [f"- `{name}`" for name in result.undetected]
    if result.stale_equivalents:
        lines += ["", "## Listed as equivalent but detected: remove them from docs/testing.md", ""]
        lines += [f"- `{name}`" for name in result.stale_equivalents]
    return "\n".join(lines) + "\n"


def run_mutmut(max_children: int) -> float:
    """Run mutmut (through tests.mutation_scope) from the project root; how long it took."""
    started = time.monotonic()
    # By path, not `-m tests.mutation_scope`: a `tests` package imported from the project root would
    # shadow the copy under mutants/ that pytest imports there.
    subprocess.run([sys.executable, str(ROOT / "tests" / "mutation_scope.py"), "run", "--max-children",
                    str(max_children)], cwd=ROOT, check=True)
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT)
    parser.add_argument("--min-score", type=float, default=MIN_SCORE)
    parser.add_argument("--no-run", action="store_true", help="score what mutants/ holds, run nothing")
    args = parser.parse_args(argv)

    if not args.no_run:
        print(f"mutate: {reopen_undetected()} undetected mutants of the last run are tested again")
    seconds = None if args.no_run else run_mutmut(args.max_children)
    found = results()
    if not found:
        print(f"mutate: no mutmut results under {MUTANTS}: run without --no-run first", file=sys.stderr)
        return 2
    result = score(found, equivalents())
    text = report(result, seconds)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(text, encoding="utf-8")
    print(text)
    print(f"mutate: report written to {args.report}")
    if result.stale_equivalents or result.percent < args.min_score:
        print(f"mutate: score {result.percent:.1f} % is below {args.min_score} % or equivalents are stale",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
