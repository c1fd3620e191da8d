"""docs/secrets.md, the rotation runbook, cannot drift from the program: every URN it gives is one
the real engine would give a resource the prod stack registers, every generated secret has its
``--replace`` command, and every secret key of the config has its section."""

from __future__ import annotations

import re

import pytest

from gushen_infra import config, render

from .conftest import ROOT

DOC = (ROOT / "docs" / "secrets.md").read_text()
ROOT_STACK = "pulumi:pulumi:Stack"


def engine_urn(mock_urn: str) -> str:
    """The URN the engine gives what the mocks recorded: pulumi/pulumi ``pkg/resource/deploy/deployment.go``,
    ``generateURN``, leaves out the parent type when the parent is the root stack; the Python mocks
    (``MockMonitor.make_urn``) keep it."""
    return mock_urn.replace(f"::{ROOT_STACK}$", "::", 1)


@pytest.fixture(scope="module")
def urns(prod) -> set[str]:
    return {engine_urn(r.urn) for r in prod.resources}


def test_engine_urns_are_the_mocks_without_the_root_stack():
    assert engine_urn(f"urn:pulumi:prod::gushen-infra::{ROOT_STACK}$random:index/randomPassword:RandomPassword::x") == \
        "urn:pulumi:prod::gushen-infra::random:index/randomPassword:RandomPassword::x"
    nested = "urn:pulumi:prod::gushen-infra::gushen:core:AppNamespace$kubernetes:core/v1:Secret::ai-qtrd-secrets"
    assert engine_urn(nested) == nested


def test_every_urn_in_the_runbook_is_one_the_prod_stack_registers(urns):
    given = set(re.findall(r"urn:pulumi:[^<\s'`)][^\s'`)]*", DOC))  # not the `urn:pulumi:<stack>...` form
    assert given and given <= urns, sorted(given - urns)
    assert all(u.startswith(f"urn:pulumi:prod::{render.PROJECT}::") for u in given)


def test_every_generated_secret_has_its_replace_command(prod):
    generated = [engine_urn(r.urn) for r in prod.resources if r.type == render.RANDOM_PASSWORD]
    assert len(generated) == 3
    for urn in generated:
        assert f"pulumi up --stack prod --replace '{urn}'" in DOC, urn


@pytest.mark.parametrize("key", config.SECRET_KEYS)
def test_every_secret_key_has_its_rotation_command(key):
    command = f"pulumi config set --secret --stack prod gushen:{key}"
    assert command in DOC or f"`gushen:{key}`" in DOC, key


def test_the_runbook_is_linked_from_the_readme_and_the_operations_guide():
    for page in ("README.md", "docs/operations.md"):
        assert "secrets.md" in (ROOT / page).read_text(), page
