"""The kube tier's smoke proof: the rendered prod stack, sent as pulumi-kubernetes sends it, is
accepted by a real kube-apiserver 1.36, rolls out to the conditions the provider awaits, and a
second identical ``pulumi up`` changes nothing (tests/kube; docs/testing.md, "The kube tier")."""

from __future__ import annotations

import ipaddress
import secrets
import time

import kubernetes
import pytest

from .kube import cluster, provider
from .kube.stack import rendered

pytestmark = pytest.mark.kube

AWAITED = ("Deployment", "StatefulSet", "Service", "PersistentVolumeClaim")


def test_the_cluster_is_the_specs_k3s(kube):
    """Three Ready, schedulable nodes with K3s's labels and the spec's allocatable, local-path as K3s ships it."""
    core = kubernetes.client.CoreV1Api(kube.api)
    nodes = {n.metadata.name: n for n in core.list_node().items}
    assert sorted(nodes) == sorted(n.name for n in cluster.stack_nodes("prod"))
    for spec in cluster.stack_nodes("prod"):
        node = nodes[spec.name]
        assert node.metadata.labels["kubernetes.io/hostname"] == spec.name
        assert node.metadata.labels["node.kubernetes.io/instance-type"] == "k3s"
        assert ("node-role.kubernetes.io/control-plane" in node.metadata.labels) == spec.server
        assert (node.status.allocatable["cpu"], node.status.allocatable["memory"]) == (spec.cpu, spec.memory)
        assert [c.status for c in node.status.conditions if c.type == "Ready"] == ["True"]
        assert not node.spec.taints, f"{spec.name} still tainted: {node.spec.taints}"
    sc = kubernetes.client.StorageV1Api(kube.api).read_storage_class("local-path")
    assert (sc.provisioner, sc.volume_binding_mode, sc.reclaim_policy, sc.allow_volume_expansion) == \
        ("rancher.io/local-path", "WaitForFirstConsumer", "Delete", None)


def test_services_get_addresses_from_k3s_service_cidr(kube, kube_namespace):
    """K3s's ``--service-cidr`` default, 10.43.0.0/16: the NetworkPolicies' private ranges must cover it."""
    svc = kubernetes.client.CoreV1Api(kube.api).create_namespaced_service(
        kube_namespace, {"metadata": {"name": "probe"}, "spec": {"ports": [{"port": 80}]}})
    assert ipaddress.ip_address(svc.spec.cluster_ip) in ipaddress.ip_network("10.43.0.0/16")


def test_prod_stack_is_accepted_rolls_out_and_reapplies_without_change(kube):
    # A namespace of its own (gushen:namespace): nothing waits for the namespace controller after.
    overrides = {"namespace": f"prod-{secrets.token_hex(3)}"}
    objects = rendered("prod", overrides)
    engine = kube.engine()
    namespaces = [o for o in objects if o.manifest["kind"] == "Namespace"]
    rest = [o for o in objects if o.manifest["kind"] != "Namespace"]
    ns = namespaces[0].manifest["metadata"]["name"]

    try:
        # `pulumi preview` on an empty cluster: the server validates what it can; objects of a namespace
        # not created yet are shown as creates unvalidated, as the provider does.
        preview = dict(zip((o.key for o in objects), engine.up(objects, preview=True)))
        assert all(preview[o.key] == provider.NAMESPACE_MISSING for o in rest if o.manifest["metadata"].get("namespace"))
        assert not kubernetes.client.CoreV1Api(kube.api).list_namespace(field_selector=f"metadata.name={ns}").items, \
            "a dry-run created the namespace"

        # `pulumi up`: the namespace first, then every object the server has now dry-run-validated.
        engine.up(namespaces)
        cluster.wait_default_service_account(kube.api, ns)
        dry = engine.up(rest, preview=True)
        assert provider.NAMESPACE_MISSING not in dry
        t0 = time.monotonic()
        engine.up(rest)
        for obj in rest:
            if obj.manifest["kind"] in AWAITED:
                provider.await_ready(engine.provider(obj), obj.manifest, step=kube.players.step, timeout=90)
        rollout = time.monotonic() - t0
        print(f"prod apply + settle: {rollout:.1f} s")

        generations = {o.key: engine.provider(o).get(o.manifest)["metadata"].get("generation") for o in objects}
        # A second `pulumi up` runs the program again: a render that is not the same twice shows here.
        engine.up(rendered("prod", overrides))
        again = {o.key: engine.provider(o).get(o.manifest)["metadata"].get("generation") for o in objects}
        assert again == generations
    finally:
        kube.clean(objects)
