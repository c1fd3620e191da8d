"""The rendered prod stack passes the policy pack: zero mandatory violations (advisories are listed)."""

from policies.base import Obj
from policies.catalog import evaluate
from policies.workloads import KINDS

from .policy_baseline import prod_settings


def test_prod_render_has_no_mandatory_violation(prod):
    objects = [Obj.from_manifest(m) for m in prod.manifests]
    assert objects and all(o is not None for o in objects)
    violations = evaluate(objects, prod_settings())
    for v in violations:
        print(v.line)  # advisories show with -s; they do not fail the stack
    assert [v.line for v in violations if v.enforcement == "mandatory"] == []


def test_prod_render_is_checked_for_real(prod):
    """The pack sees the prod workloads: a cap below their limits trips on every one of them."""
    tight = prod_settings({"resource-caps": {"caps": {}, "defaultCap": {"cpu": "1m", "memory": "1Mi"}}})
    flagged = {f"{v.kind}/{v.name}" for v in evaluate([Obj.from_manifest(m) for m in prod.manifests], tight)
               if v.policy == "resource-caps"}
    workloads = {f"{m['kind']}/{m['metadata']['name']}" for m in prod.manifests
                 if m["kind"] in KINDS}
    assert workloads and flagged == workloads
