"""Every stack and switch renders objects a real kube-apiserver 1.36 accepts: each one passes the
server's dry-run, then is applied as pulumi-kubernetes applies it, and a second identical apply
changes no object's generation. NetworkPolicies are accepted field by field (nothing enforces
them here: ``tests/netpol.py``'s matrix stays the judge of traffic). The prod stack itself is
``test_kube_smoke.py``'s (it also re-renders before the second apply)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from .kube.stack import rendered
from .test_change_impact import with_
from .test_config import prod_raw
from .test_drain import autoscaled, dev_raw

pytestmark = pytest.mark.kube
ROOT = Path(__file__).resolve().parent.parent

#: (stack, overrides): every stack file and each switch a user turns.
SWITCHES = {
    "dev": lambda: ("dev", {}),
    "prod-autoscaling-on": lambda: ("prod", autoscaled(prod_raw())),
    "dev-autoscaling-on": lambda: ("dev", autoscaled(dev_raw())),
    "prod-backups-off": lambda: ("prod", with_("backup.enabled", False)),
    "prod-remote-backups-off": lambda: ("prod", with_("backup.remote.enabled", False)),
    # docs/adoption.md: the adoption run turns network isolation off (config refuses it on).
    "prod-adoption-mode": lambda: ("prod", {"adopt": {"enabled": True}, "network": {"enabled": False}}),
}
#: Any other stack file (e.g. ``Pulumi.ci.yaml``) is judged as it appears.
OTHER_STACKS = sorted({p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml")} - {"prod", "dev"})
SWITCHES.update({s: (lambda s=s: (s, {})) for s in OTHER_STACKS})


@pytest.mark.parametrize("switch", SWITCHES)
def test_stack_is_accepted_and_reapplies_without_change(kube, switch):
    stack, overrides = SWITCHES[switch]()
    objects = rendered(stack, {**overrides, "namespace": f"{switch[:40]}-{secrets.token_hex(3)}"})
    try:
        engine = kube.deploy(objects)
        generations = kube.generations(engine, objects)
        engine.up(objects)
        assert kube.generations(engine, objects) == generations
    finally:
        kube.clean(objects)


def test_network_policies_are_accepted_field_by_field(kube):
    """``fieldValidation=Strict``: a field the server does not know is an error, not dropped; the
    stored spec is the rendered one (defaults aside)."""
    objects = rendered("prod", {"namespace": f"netpol-{secrets.token_hex(3)}"})
    policies = [o for o in objects if o.manifest["kind"] == "NetworkPolicy"]
    assert len(policies) >= 5, "the prod stack isolates its tiers"
    try:
        engine = kube.deploy([o for o in objects if o.manifest["kind"] == "Namespace"])
        res = kube.dynamic.resources.get(api_version="networking.k8s.io/v1", kind="NetworkPolicy")
        for obj in policies:
            m = obj.manifest
            res.create(body=m, namespace=m["metadata"]["namespace"], dry_run="All", query_params=[("fieldValidation", "Strict")])
        engine.up(policies)
        for obj in policies:
            m = obj.manifest
            live = engine.provider(obj).get(m)
            assert _subset(m["spec"], live["spec"]), f"NetworkPolicy/{m['metadata']['name']}: sent {m['spec']}, stored {live['spec']}"
    finally:
        kube.clean(objects)


def _subset(sent, stored) -> bool:
    """Everything sent is stored (the server may add defaults, e.g. ``protocol: TCP``)."""
    if isinstance(sent, dict):
        return isinstance(stored, dict) and all(k in stored and _subset(v, stored[k]) for k, v in sent.items())
    if isinstance(sent, list):
        return isinstance(stored, list) and len(sent) == len(stored) and all(_subset(a, b) for a, b in zip(sent, stored))
    return sent == stored
