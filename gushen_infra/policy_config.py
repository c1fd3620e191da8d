"""The policy pack's config of each stack, generated from its stack file.

A stack's nodes and their capacities live in one place, ``gushen:clusterNodes`` and
``gushen:nodes`` of ``Pulumi.<stack>.yaml``. The pack is published alone and reads them from its
``--policy-pack-config`` JSON, ``policies/config.<stack>.json``, which this module writes::

    python -m gushen_infra.policy_config            # (make policy-config) rewrite every stack's file
    python -m gushen_infra.policy_config --check    # exit 1 if a checked-in file differs (CI)

``render --check`` without ``--policy-config`` derives the same document from the stack file it
renders (:func:`document`), so an edited copy (``--config FILE``) is checked against its own nodes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Optional

from . import config

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"


def document(settings: config.Settings) -> dict[str, Any]:
    """The ``--policy-pack-config`` of a stack: where each tier runs, and what each node can hold."""
    return {
        "node-placement": {"nodes": settings.nodes.model_dump()},
        "node-capacity": {
            "allocatable": {name: node.model_dump() for name, node in sorted(settings.cluster_nodes.items())},
        },
    }


def text(settings: config.Settings) -> str:
    """The file's text: stable (sorted, two-space indents), so a regenerated file diffs clean."""
    return json.dumps(document(settings), indent=2, sort_keys=True) + "\n"


def stacks(root: Path = ROOT) -> list[str]:
    """Every stack of the project: ``Pulumi.<stack>.yaml`` (``Pulumi.yaml`` is the project file)."""
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def path(stack: str, root: Path = ROOT) -> Path:
    return root / "policies" / f"config.{stack}.json"


def stack_settings(stack: str, root: Path = ROOT) -> config.Settings:
    """The stack file's validated settings, as the offline render reads them (secrets as placeholders)."""
    from . import render  # the render's reader: the same YAML rules as the CLI's

    return render.settings_of(*render.stack_config(stack, root))


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gushen_infra.policy_config", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", action="append", help="only this stack (repeatable; default: every Pulumi.*.yaml)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a checked-in file differs")
    parser.add_argument("--project", type=Path, default=ROOT, help="the project directory (default: this repo)")
    args = parser.parse_args(argv)
    status = 0
    for stack in args.stack or stacks(args.project):
        target = path(stack, args.project)
        try:
            want = text(stack_settings(stack, args.project))
        except config.ConfigError as exc:
            print(f"policy-config: stack {stack!r} has invalid config; {target.name} not written:", file=sys.stderr)
            for problem in exc.problems:
                print(f"  {problem}", file=sys.stderr)
            return 2
        have = target.read_text() if target.exists() else None
        if have == want:
            continue
        if args.check:
            print(f"policy-config: {target.relative_to(args.project)} is not what Pulumi.{stack}.yaml gives: "
                  f"run `make policy-config` and commit it", file=sys.stderr)
            status = 1
        else:
            target.write_text(want)
            print(f"policy-config: wrote {target.relative_to(args.project)} from Pulumi.{stack}.yaml")
    return status


if __name__ == "__main__":
    sys.exit(main())
