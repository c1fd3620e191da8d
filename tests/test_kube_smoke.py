"""The kube tier's smoke proof: the rendered prod stack, sent as pulumi-kubernetes sends it, is
accepted by a real kube-apiserver 1.36, rolls out to the conditions the provider awaits, a
second identical ``pulumi up`` changes nothing, and a changed pod template rolls out as the
provider awaits it (tests/kube; docs/testing.md, "The kube tier")."""

from __future__ import annotations

import ipaddress
import secrets
import time

import kubernetes
import pytest

from .kube import cluster, provider
from .kube.stack import rendered
from .test_change_impact import REDIS, WEB, merge, with_

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


def test_prod_stack_is_accepted_rolls_out_reapplies_without_change_and_rolls_a_new_template(kube):
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

        roll_a_new_template(kube, engine, objects, ns)
    finally:
        kube.clean(objects)


def roll_a_new_template(kube, engine, objects, ns: str) -> None:
    """A changed pod template rolls the Deployment and the StatefulSet on the real controllers; the
    provider's await (``deploymentInitAwaiter``/``statefulsetInitAwaiter``) holds while old pods
    serve and ends when every pod is new. The played kubelet makes a new pod Ready at its next step."""
    change = merge(with_("web.image", "gushen-web:v19"), with_("redis.maxmemory", "1024mb"), {"namespace": ns})
    after = {o.key: o for o in rendered("prod", change)}
    rolled = [after[o.key] for o in objects if o.manifest["kind"] in ("Deployment", "StatefulSet")
              and o.manifest["metadata"]["name"] in (WEB, REDIS)]
    assert len(rolled) == 2
    apps, core = kubernetes.client.AppsV1Api(kube.api), kubernetes.client.CoreV1Api(kube.api)
    first_revision = apps.read_namespaced_stateful_set(REDIS, ns).status.update_revision
    engine.up(rolled)
    # Until the (played) kubelet reports new pods Ready, the provider would still be waiting.
    for obj in rolled:
        assert not provider.ready(engine.provider(obj), obj.manifest, created=False), obj.key
    kube.await_all(engine, rolled, created=False)

    web = [p for p in core.list_namespaced_pod(ns, label_selector=f"app={WEB}").items if p.metadata.deletion_timestamp is None]
    assert web and {p.spec.containers[0].image for p in web} == {"gushen-web:v19"}
    sts = apps.read_namespaced_stateful_set(REDIS, ns)
    redis = core.list_namespaced_pod(ns, label_selector=f"app={REDIS}").items
    assert len(redis) == sts.spec.replicas
    assert sts.status.update_revision != first_revision, "the maxmemory change is in the pod template"
    assert {p.metadata.labels["controller-revision-hash"] for p in redis} == {sts.status.update_revision}
