"""Write gaps of the Redis tier: ``python bench/redis_gaps.py [--runs N] [-k EXPR] [--json-out FILE]``.

Runs the live Redis suites (real redis-server, Sentinel, HAProxy; ``CI=true`` so nothing is
skipped) ``--runs`` times in a row and collects, per scenario, the longest gap between two
acknowledged (``WAIT 1``) writes that each test prints, with the load average before each run.
Prints the JSON report; the figures go into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITES = ("tests/test_redis_scenarios_live.py", "tests/test_redis_roll_live.py",
          "tests/test_redis_migration_live.py", "tests/test_redis_live.py")
#: What the tests print: scenario name, longest gap in seconds.
PATTERNS = (
    re.compile(r"\[redis scenario\] (?P<name>[^:]+): longest write gap (?P<gap>[\d.]+)s"),
    re.compile(r"(?P<name>Redis takeover): .*?longest write gap (?P<gap>[\d.]+) s"),
    re.compile(r"\[(?P<name>redis pre-stop)\] hand-over took [\d.]+s; longest gap between acknowledged writes (?P<gap>[\d.]+)s"),
)


def gaps(output: str) -> dict[str, float]:
    return {m["name"]: float(m["gap"]) for line in output.splitlines() for p in PATTERNS if (m := p.search(line))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("-k", dest="select", default="", help="pytest -k expression (default: every test)")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    runs = []
    for _ in range(args.runs):
        load = os.getloadavg()[0]
        started = time.monotonic()
        argv = [sys.executable, "-m", "pytest", *SUITES, "-q", "-s", "-p", "no:cacheprovider",
                *(["-k", args.select] if args.select else [])]
        done = subprocess.run(argv, cwd=ROOT, env={**os.environ, "CI": "true"}, capture_output=True, text=True)
        runs.append({"load_average_before": round(load, 2), "seconds": round(time.monotonic() - started, 1),
                     "passed": done.returncode == 0, "gaps_s": gaps(done.stdout)})
    names = sorted({name for run in runs for name in run["gaps_s"]})
    report = {
        "runs": runs,
        "longest_gap_s": {n: max(r["gaps_s"][n] for r in runs if n in r["gaps_s"]) for n in names},
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")
    return 0 if all(r["passed"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
