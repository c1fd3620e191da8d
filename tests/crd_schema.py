"""Strict validation of rendered custom resources against the CRD schemas in ../shared/crds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from .conftest import require_shared


def schema_path(manifest: dict[str, Any], folder: str = "") -> Path:
    """kubeconform's layout: ``<kind>_<group>_<version>.json`` (lower-case kind)."""
    group, version = manifest["apiVersion"].split("/")
    name = f"{manifest['kind'].lower()}_{group}_{version}.json"
    return require_shared("crds", "json-schemas", *([folder] if folder else []), name)


def schema_errors(manifest: dict[str, Any], folder: str = "") -> list[str]:
    """Every violation of the matching CRD schema, as ``path: message`` lines."""
    schema = json.loads(schema_path(manifest, folder).read_text())
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{manifest['kind']}/{manifest['metadata']['name']} {'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(manifest)
    ]
