"""Project files: Pulumi.yaml is a valid project, and no secret sits in a committed stack file."""

from __future__ import annotations

import json
import re

import jsonschema
import yaml

from gushen_infra import config

from .conftest import ROOT, require_shared


def test_pulumi_yaml_validates_against_the_project_schema():
    schema = json.loads(require_shared("schemas", "pulumi-project.json").read_text())
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    jsonschema.validate(project, schema)
    assert project["name"] == "gushen-infra"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}


def test_no_secret_in_any_committed_stack_file():
    for path in ROOT.glob("Pulumi.*.yaml"):
        if path.name == "Pulumi.yaml":
            continue
        entries = (yaml.safe_load(path.read_text()) or {}).get("config", {})
        for key in config.SECRET_KEYS:
            value = entries.get(f"{config.NAMESPACE}:{key}")
            assert value is None or (isinstance(value, dict) and set(value) == {"secure"}), f"{path.name}: {key}"


def test_runtime_requirements_are_pinned():
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.match(r"^[A-Za-z0-9_.-]+==[0-9][\w.]*$", line), line
