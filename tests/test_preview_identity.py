"""PreviewIdentity: the previews' and drift check's ServiceAccount reads every object the program
manages, and can neither write nor read a Secret.

The rules are evaluated the way Kubernetes' RBAC authorizer does (``pkg/apis/rbac/v1/evaluation_helpers.go``:
a rule allows a request when its apiGroups, resources, verbs and, if set, resourceNames all match).
"""

from __future__ import annotations

import pytest

from gushen_infra import preview_identity

from .conftest import run_stack
from .test_config import prod_raw
from .test_tier import scaling, tier_with

NS = "ai-qtrd"
#: Every optional kind switched on: the monitoring rules, HPAs and PDBs.
EVERYTHING = {
    "monitoring": {**prod_raw()["monitoring"], "enabled": True, "prometheusRule": True},
    "web": tier_with("web", autoscaling=scaling(lo=2, hi=3)),
    "api": tier_with("api", autoscaling=scaling(lo=2, hi=3)),
}


def plural(kind: str) -> str:
    lower = kind.lower()
    return lower[:-1] + "ies" if lower.endswith("y") else lower + ("es" if lower.endswith("s") else "s")


def allows(rules: list[dict], group: str, resource: str, verb: str, name: str) -> bool:
    return any(
        group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"]
        and ("resourceNames" not in r or name in r["resourceNames"])
        for r in rules
    )


def identity(stack) -> tuple[list[dict], list[dict]]:
    """The Role's and the ClusterRole's rules, after checking both are bound to the ServiceAccount."""
    (namespace,) = [m["metadata"]["name"] for m in stack.all("Namespace")]
    name, cluster_name = preview_identity.NAME, f"{preview_identity.NAME}-{namespace}"
    assert stack.get("ServiceAccount", name)["automountServiceAccountToken"] is False
    subject = [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]
    for binding, role in (("RoleBinding", name), ("ClusterRoleBinding", cluster_name)):
        assert stack.get(binding, role)["subjects"] == subject
        assert stack.get(binding, role)["roleRef"]["name"] == role
    return stack.get("Role", name)["rules"], stack.get("ClusterRole", cluster_name)["rules"]


@pytest.fixture(scope="module")
def everything():
    return run_stack("prod", EVERYTHING)


@pytest.mark.parametrize("stack_name", ["prod", "dev", "everything"])
def test_the_identity_can_read_every_object_the_program_manages_except_secrets(stack_name, prod, everything):
    """A refresh GETs every object (provider.go ``Read``): one it may not read fails the drift check with a 403."""
    stack = {"prod": prod, "everything": everything}.get(stack_name) or run_stack(stack_name)
    role, cluster_role = identity(stack)
    for m in stack.manifests:
        group, resource, name = m["apiVersion"].rpartition("/")[0], plural(m["kind"]), m["metadata"]["name"]
        readable = allows(role if m["metadata"].get("namespace") else cluster_role, group, resource, "get", name)
        assert readable != (m["kind"] == "Secret"), f"{m['kind']}/{name}: readable={readable}"


def test_no_rule_writes_or_reads_secrets(prod):
    role, cluster_role = identity(prod)
    for rule in role + cluster_role:
        assert set(rule["verbs"]) <= {"get", "list", "watch"}, rule
        assert "*" not in rule["apiGroups"] + rule["resources"] + rule["verbs"], rule
        assert "secrets" not in rule["resources"], rule
        assert not any("/" in r for r in rule["resources"]), f"no subresource (pods/exec, pods/log): {rule}"


def test_cluster_wide_reads_are_limited_to_its_own_objects_and_the_namespace(prod):
    _, cluster_role = identity(prod)
    assert allows(cluster_role, "", "namespaces", "get", NS)
    assert not allows(cluster_role, "", "namespaces", "get", "kube-system")
    assert not allows(cluster_role, "rbac.authorization.k8s.io", "clusterroles", "get", "cluster-admin")
    assert allows(cluster_role, "rbac.authorization.k8s.io", "clusterroles", "get", f"gushen-preview-{NS}")
