"""docs/adoption.md executed end to end on a real control plane (kube-apiserver, controller-manager
with its garbage collector and StatefulSet controller, scheduler): the cluster kubectl built, the
adoption preview and update, the Redis StatefulSet orphan-deleted and recreated, and the next
run. Requests as pulumi-kubernetes sends them (tests/kube/provider.py); pods played Ready.
"""

from __future__ import annotations

import json
import secrets

import kubernetes
import pytest
from kubernetes.dynamic.exceptions import ConflictError

from gushen_infra import redis

from .kube import provider
from .kube.live import adoption_overrides, apply_live, imported, kubectl, live_documents, render

pytestmark = pytest.mark.kube

AWAITED = ("Deployment", "StatefulSet", "Service", "PersistentVolumeClaim")
CLAIMS = [f"redis-data-redis-{i}" for i in range(3)]


def kinds(objects, *names):
    return [o for o in objects if o.manifest["kind"] in names]


def preview(engine, objects) -> dict[str, str]:
    """``pulumi preview``: each object's dry-run; what failed, by ``Kind/name``. A create that meets
    an existing object is swallowed in a preview (``kubeProvider.Create``: AlreadyExists with
    server-side apply sets ``failedPreview``), so it is reported here but is no failure."""
    failed = {}
    for obj in objects:
        try:
            engine.up([obj], preview=True)
        except ConflictError as e:
            reason = json.loads(e.body).get("reason")
            failed[f"{obj.manifest['kind']}/{obj.manifest['metadata']['name']}"] = reason
    return failed


def settle_all(kube, engine, objects, timeout: float = 120) -> None:
    for obj in kinds(objects, *AWAITED):
        provider.await_ready(engine.provider(obj), obj.manifest, step=kube.players.step, timeout=timeout)


def comparable(obj: dict) -> dict:
    meta = {k: v for k, v in obj["metadata"].items() if k not in ("managedFields", "resourceVersion")}
    return {**obj, "metadata": meta}


def test_the_adoption_runbook_end_to_end(kube, kept_live_secrets):
    ns = f"rb-{secrets.token_hex(3)}"
    core = kubernetes.client.CoreV1Api(kube.api)
    adopting = render(adoption_overrides(ns))
    sts = next(o for o in adopting if o.manifest["kind"] == "StatefulSet")
    data_node = sts.manifest["spec"]["template"]["spec"]["nodeSelector"]["kubernetes.io/hostname"]
    # The runbook's precondition ("Before you start"): the Redis volumes are on the data node, where
    # ours are pinned; a local-path volume elsewhere keeps its new pod unschedulable.
    apply_live(kube.kubeconfig, live_documents(ns, redis_node=data_node))

    def redis_pods():
        return {p.metadata.name: p for p in core.list_namespaced_pod(ns, label_selector="app=redis").items}

    def claims():
        return {c.metadata.name: c for c in core.list_namespaced_persistent_volume_claim(ns).items}

    try:
        # The cluster as it runs: kubectl's StatefulSet started its three pods in order, each on a bound claim.
        kube.players.settle(lambda: len([p for p in redis_pods().values() if p.status.phase == "Running"]) == 3
                            and all(claims()[c].status.phase == "Bound" for c in CLAIMS if c in claims())
                            and set(CLAIMS) <= set(claims()), timeout=90, what="kubectl's cluster running")
        claim_uids = {c: claims()[c].metadata.uid for c in CLAIMS}
        engine = kube.engine()
        engine.state.update({o.key: engine.provider(o).get(o.manifest) for o in imported(adopting)})

        # Step 3: the preview. Only StatefulSet redis still exists unlisted: its create is swallowed.
        assert preview(engine, adopting) == {"StatefulSet/redis": "AlreadyExists"}

        # Step 4: hand the Redis pods over; the garbage collector removes the orphan finalizer.
        kubectl(kube.kubeconfig, "-n", ns, "delete", "statefulset", redis.NAME, "--cascade=orphan")
        assert sorted(redis_pods()) == ["redis-0", "redis-1", "redis-2"]
        # --wait=false: here the played kubelet removes the pod, between the test's steps.
        kubectl(kube.kubeconfig, "-n", ns, "delete", "pod", "redis-1", "--wait=false")
        kube.players.settle(lambda: "redis-1" not in redis_pods(), timeout=30, what="redis-1 deleted")
        old_master = redis_pods()["redis-0"].metadata.uid

        # Step 5: `pulumi up` (its preview first: nothing fails now).
        assert preview(engine, adopting) == {}
        engine.up(adopting)
        new_uid = engine.provider(sts).get(sts.manifest)["metadata"]["uid"]
        # Until replaced, the old pods mount ConfigMap redis-config, now ours: a container restart reads
        # this program's redis.conf with the old command line (tests/test_adoption_redis_live.py).
        old_pod = redis_pods()["redis-0"]
        assert [v.config_map.name for v in old_pod.spec.volumes if v.config_map] == [redis.CONFIG_MAP]
        cm = core.read_namespaced_config_map(redis.CONFIG_MAP, ns)
        assert cm.data["redis.conf"] == next(o for o in adopting if o.manifest["kind"] == "ConfigMap"
                                             and o.manifest["metadata"]["name"] == redis.CONFIG_MAP).manifest["data"]["redis.conf"]
        # Ours adopts the running redis-0. The kubelet is not played meanwhile, so no new pod gets
        # Ready and the roll cannot replace redis-0 before this is seen.
        provider.wait_for(lambda: [r.uid for r in redis_pods()["redis-0"].metadata.owner_references or []] == [new_uid],
                          30, "redis-0 adopted")
        assert redis_pods()["redis-0"].metadata.uid == old_master
        settle_all(kube, engine, adopting)
        pods = redis_pods()
        assert sorted(pods) == ["redis-0", "redis-1", "redis-2"]
        assert all([r.uid for r in p.metadata.owner_references] == [new_uid] for p in pods.values())
        # Each pod on its own old claim: the same objects, not new empty ones.
        assert {c: claims()[c].metadata.uid for c in CLAIMS} == claim_uids
        assert {p.metadata.name: [v.persistent_volume_claim.claim_name for v in p.spec.volumes if v.persistent_volume_claim]
                for p in pods.values()} == {f"redis-{i}": [f"redis-data-redis-{i}"] for i in range(3)}

        # Step 6: the next run (adopt off, network on); the providers are configured anew.
        normal = render({"namespace": ns})
        before = {o.key: o.manifest for o in adopting}
        changed = sorted(f"{o.manifest['kind']}/{o.manifest['metadata']['name']}" for o in normal
                         if o.key in before and o.manifest != before[o.key])
        created = sorted({o.manifest["kind"] for o in normal if o.key not in before})
        assert changed == ["Service/ai-qtrd-api", "Service/ai-qtrd-web", "Service/redis-headless", "Service/redis-service"]
        assert created == ["NetworkPolicy"]
        engine.providers.clear()
        assert preview(engine, normal) == {}
        engine.up(normal)
        settle_all(kube, engine, normal)

        # A second preview changes nothing: every dry-run is the live object (the program renders the
        # same twice: test_kube_smoke.py).
        drift = [o.key for o in normal
                 if comparable(engine.up([o], preview=True)[0]) != comparable(engine.provider(o).get(o.manifest))]
        assert drift == []
    finally:
        kube.clean(adopting)


def test_a_redis_volume_off_the_data_node_stops_the_roll(kube):
    """The runbook's precondition ("Before you start"): ours pins the Redis pods to the data node,
    and a local-path volume belongs to the node it was made on (the PV's node affinity). An old
    claim elsewhere (the spec places the old pods nowhere) keeps its new pod Pending."""
    ns = f"rb-{secrets.token_hex(3)}"
    core = kubernetes.client.CoreV1Api(kube.api)
    adopting = render(adoption_overrides(ns))
    sts = next(o for o in adopting if o.manifest["kind"] == "StatefulSet")
    data_node = sts.manifest["spec"]["template"]["spec"]["nodeSelector"]["kubernetes.io/hostname"]
    elsewhere = next(n.name for n in kube.nodes if n.name != data_node)
    docs = live_documents(ns, redis_node=elsewhere)
    apply_live(kube.kubeconfig, [d for d in docs if d["kind"] in ("Namespace", "Secret", "ConfigMap", "Service", "StatefulSet")])
    try:
        kube.players.settle(lambda: len([c for c in core.list_namespaced_persistent_volume_claim(ns).items
                                         if c.status.phase == "Bound"]) == 3, timeout=60, what="old claims bound")
        kubectl(kube.kubeconfig, "-n", ns, "delete", "statefulset", redis.NAME, "--cascade=orphan")
        kubectl(kube.kubeconfig, "-n", ns, "delete", "pod", "redis-1", "--wait=false")
        kube.players.settle(lambda: "redis-1" not in {p.metadata.name for p in core.list_namespaced_pod(ns).items},
                            timeout=30, what="redis-1 deleted")
        engine = kube.engine()
        engine.up([sts])

        def unschedulable() -> str:
            pods = core.list_namespaced_pod(ns, field_selector="metadata.name=redis-1").items
            if not pods:
                return ""  # not created by the StatefulSet controller yet
            pod = pods[0]
            cond = [c for c in pod.status.conditions or [] if c.type == "PodScheduled"]
            return cond[0].message if cond and cond[0].reason == "Unschedulable" else ""

        kube.players.settle(lambda: bool(unschedulable()), timeout=30, what="redis-1 unschedulable")
        assert "didn't match PersistentVolume's node affinity" in unschedulable()
    finally:
        kube.clean(adopting)
