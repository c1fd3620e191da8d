"""policies/stack.py: lookups by namespace and name (unknown namespaces in preview), data keys, Traefik's
groups, and selector lookups indexed by namespace, so many environments of one app stay linear."""

from __future__ import annotations

from typing import Optional

from policies.base import UNKNOWN, Obj
from policies.stack import Stack

LABELS = {"app": "api", "app.kubernetes.io/name": "api"}


def deployment(namespace: Optional[str], name: str = "api", labels: Optional[dict] = None) -> Obj:
    manifest = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": UNKNOWN if namespace is None else namespace},
        "spec": {"template": {"metadata": {"labels": labels or LABELS}, "spec": {"containers": []}}},
    }
    obj = Obj.from_manifest(manifest)
    assert obj is not None
    return obj


def refs(objs: list[Obj]) -> list[tuple[Optional[str], str]]:
    return [(o.namespace, o.name) for o in objs]


def test_same_labels_in_many_namespaces_select_only_their_own():
    stack = Stack([deployment(f"env-{i}") for i in range(50)])
    assert refs(stack.selected("env-7", LABELS)) == [("env-7", "api")]
    assert stack.selected("env-50", LABELS) == []


def test_every_pair_of_the_selector_must_match():
    stack = Stack([deployment("a"), deployment("a", "web", {"app": "web", "app.kubernetes.io/name": "api"})])
    assert refs(stack.selected("a", {"app.kubernetes.io/name": "api"})) == [("a", "api"), ("a", "web")]
    assert refs(stack.selected("a", {"app.kubernetes.io/name": "api", "app": "web"})) == [("a", "web")]
    assert stack.selected("a", {}) == []
    # each pair matched by another workload is no match
    split = Stack([deployment("a", "x", {"app": "web", "tier": "other"}), deployment("a", "y", {"app": "other", "tier": "api"})])
    assert split.selected("a", {"app": "web", "tier": "api"}) == [] and split.selected(None, {"app": "web", "tier": "api"}) == []


def test_unknown_namespaces_match_any_during_preview():
    unknown = deployment(None, "pending")
    stack = Stack([deployment("a"), deployment("b"), unknown])
    # a Service in a known namespace may select a workload whose namespace is not known yet
    assert refs(stack.selected("a", LABELS)) == [("a", "api"), (None, "pending")]
    # a Service whose namespace is unknown may select any of them
    assert len(stack.selected(None, LABELS)) == 3
    assert stack.selected(None, {"app": "nope"}) == [] and stack.selected("a", {"app": "nope"}) == []


def obj(kind: str, namespace: Optional[str], name: str, api: str = "v1", **body) -> Obj:
    manifest = {"apiVersion": api, "kind": kind,
                "metadata": {"name": name, "namespace": UNKNOWN if namespace is None else namespace}, **body}
    found = Obj.from_manifest(manifest)
    assert found is not None
    return found


def test_a_name_is_found_in_its_namespace_or_where_the_namespace_is_not_known_yet():
    stack = Stack([obj("Secret", "a", "db"), obj("Secret", None, "pending"), obj("ConfigMap", "b", "db")])
    assert stack.find("Secret", "a", "db").namespace == "a"
    assert stack.find("Secret", "b", "db") is None  # a ConfigMap of that name is no Secret
    assert stack.find("Secret", "b", "pending").name == "pending"  # may yet land in b
    assert stack.find("Secret", None, "db").namespace == "a"  # the reader's namespace is unknown
    assert stack.find("Secret", "a", UNKNOWN) is None


def test_data_keys_of_secrets_config_maps_and_certificates():
    stack = Stack([
        obj("Secret", "a", "s", data={"A": "eA=="}, stringData={"B": "x"}),
        obj("ConfigMap", "a", "c", data={"C": "x"}, binaryData={"D": "AA=="}),
        obj("Secret", "a", "later", data=UNKNOWN),
        obj("Certificate", "a", "tls", api="cert-manager.io/v1", spec={"secretName": "site-tls"}),
        obj("Certificate", "a", "other", api="example.com/v1", spec={"secretName": "fake-tls"}),
    ])
    assert stack.data_keys("Secret", "a", "s") == {"A", "B"}
    assert stack.data_keys("ConfigMap", "a", "c") == {"C", "D"}
    assert stack.data_keys("Secret", "a", "later") == {"*"}  # any key may exist once the data is known
    assert stack.data_keys("Secret", "a", "site-tls") == {"tls.crt", "tls.key", "ca.crt"}
    assert stack.data_keys("Secret", None, "site-tls") == {"tls.crt", "tls.key", "ca.crt"}
    assert stack.data_keys("Secret", "b", "site-tls") is None  # cert-manager writes in the Certificate's namespace
    assert stack.data_keys("ConfigMap", "a", "site-tls") is None
    assert stack.data_keys("Secret", "a", "fake-tls") is None  # not cert-manager's Certificate
    assert stack.data_keys("Secret", "a", "nope") is None


def test_traefik_objects_of_either_api_group_only():
    stack = Stack([
        obj("Middleware", "a", "new", api="traefik.io/v1alpha1"),
        obj("Middleware", "a", "old", api="traefik.containo.us/v1alpha1"),
        obj("Middleware", "a", "other", api="example.com/v1"),
    ])
    assert [stack.traefik("Middleware", "a", n) is not None for n in ("new", "old", "other", "gone")] == [
        True, True, False, False]


def test_objects_without_a_namespace_are_found_by_the_empty_namespace():
    """Manifests that name no namespace (cluster-scoped, or the default one) all share ``""``."""
    stack = Stack([obj("Service", "", "db"), obj("Certificate", "", "tls", api="cert-manager.io/v1", spec={"secretName": "site-tls"})])
    assert stack.find("Service", "", "db").name == "db"
    assert stack.data_keys("Secret", "", "site-tls") == {"tls.crt", "tls.key", "ca.crt"}


def test_an_hpa_sizes_the_workload_it_names_in_its_namespace():
    ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"}
    stack = Stack([
        deployment(""), deployment("b"),
        obj("HorizontalPodAutoscaler", "", "api", api="autoscaling/v2", spec={"scaleTargetRef": ref, "maxReplicas": 5}),
    ])
    assert [stack.max_replicas(d) for d in stack.by_kind["Deployment"]] == [5, None]
