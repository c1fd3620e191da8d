"""Run the policy pack on Kubernetes manifests, offline: ``python -m policies.check FILE... [--json] [--config FILE]``.

Reads YAML or JSON manifests (multi-document files, ``kind: List`` and ``-`` for stdin),
evaluates every policy, resource and stack ones, with the same validators the pack runs in
``pulumi preview``, and prints one line per violation (prefixed with the file when several
files are checked)::

    mandatory node-placement Deployment/ai-qtrd-web: web pods must set nodeSelector ...

Exit status: 0 when no mandatory violation is found, 1 when one is, 2 when an input or the
config cannot be read, or an input holds no Kubernetes object (an empty file or an empty
``List``: a truncated render must not pass); nothing is evaluated then. With ``--json``, the
violations are a JSON array and an input or config error is a JSON object
``{"error": ..., "problems": [...]}``, both on stdout. ``--config`` takes the JSON document
``pulumi preview --policy-pack-config`` takes.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

if __name__ == "__main__":  # its own process (python -m), not a test or the render importing it
    # One short process whose objects all live until it exits: the collector's passes would only
    # re-walk every manifest loaded so far, freeing nothing (peak RSS alike on 5,000 objects).
    gc.disable()

import yaml  # noqa: E402

from . import yamldocs  # noqa: E402
from .base import Obj  # noqa: E402
from .catalog import RULES, evaluate  # noqa: E402
from .config import PolicyConfigError, resolve  # noqa: E402


class InputError(Exception):
    """An input file that cannot be read or holds something other than Kubernetes objects."""


def _documents(path: str) -> Iterator[Any]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
        yield from yamldocs.load_all(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc.__class__.__name__}: {exc})") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML/JSON ({str(exc).splitlines()[0]})") from exc


def load(paths: list[str]) -> list[Obj]:
    """Every Kubernetes object in ``paths``, in file order; each file must hold at least one."""
    objects: list[Obj] = []
    for path in paths:
        before = len(objects)
        for number, doc in enumerate(_documents(path), start=1):
            if doc is None:
                continue
            is_list = isinstance(doc, dict) and doc.get("kind") == "List"
            entries = doc.get("items") if is_list else [doc]
            if is_list and entries is not None and not isinstance(entries, list):
                raise InputError(f"{path}: document {number} is a List whose items are not a list")
            for entry in entries or []:
                obj = Obj.from_manifest(entry)
                if obj is None:
                    raise InputError(f"{path}: document {number} is not a Kubernetes object (no kind/apiVersion)")
                obj.source = path
                objects.append(obj)
        if len(objects) == before:
            raise InputError(f"{path}: no Kubernetes objects (an empty input or a List without items)")
    return objects


def read_config(path: Optional[str]) -> Any:
    if path is None:
        return None
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read policy config ({exc})") from exc
    if not isinstance(document, dict):
        raise InputError(f"{path}: policy config must be a JSON object, got {type(document).__name__}")
    return document


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policies.check", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", metavar="FILE", help="manifest files (YAML or JSON; - for stdin)")
    parser.add_argument("--json", action="store_true", help="print the violations as a JSON array")
    parser.add_argument("--config", metavar="FILE", help="policy config (the --policy-pack-config JSON)")
    args = parser.parse_args(argv)
    try:
        settings = resolve(read_config(args.config), RULES)
        objects = load(args.files)
    except InputError as exc:
        return _refuse(str(exc), [], args.json)
    except PolicyConfigError as exc:
        return _refuse(f"{args.config}: invalid policy config", exc.problems, args.json)
    return report(objects, settings, as_json=args.json)


def _refuse(error: str, problems: list[str], as_json: bool) -> int:
    """Say why nothing was evaluated (stderr; also stdout as JSON with --json); exit status 2."""
    if as_json:
        print(json.dumps({"error": error, "problems": problems}, indent=2))
    print(f"policies.check: {error}" + (":" if problems else ""), file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return 2


def report(objects: list[Obj], settings: Any = None, as_json: bool = False, prog: str = "policies.check") -> int:
    """Evaluate ``objects``, print the violations and a summary; the exit status (1 if any is mandatory).

    The program's ``render --check`` calls this on the objects it just rendered, so
    both routes print the same lines.
    """
    violations = evaluate(objects, settings)
    # Name the file only where it tells something: when several files form the stack.
    several = len({o.source for o in objects}) > 1
    if as_json:
        print(json.dumps(
            [{"policy": v.policy, "enforcement": v.enforcement, "kind": v.kind, "name": v.name,
              "message": v.message, **({"file": v.source or None} if several else {})} for v in violations],
            indent=2,
        ))
    else:
        for v in violations:
            print(f"{v.source}: {v.line}" if several and v.source else v.line)
    mandatory = sum(v.enforcement == "mandatory" for v in violations)
    print(
        f"{prog}: {len(objects)} objects, {mandatory} mandatory and "
        f"{len(violations) - mandatory} advisory violations",
        file=sys.stderr,
    )
    return 1 if mandatory else 0


if __name__ == "__main__":
    sys.exit(main())
