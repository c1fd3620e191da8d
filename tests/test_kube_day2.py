"""Day 2 on a real kube-apiserver: the retained backup claim adopted again, ``replicas`` taken by
``kubectl scale``, and the await timeouts of a roll (docs/adoption.md, docs/changes.md)."""

from __future__ import annotations

import secrets

import kubernetes
import pytest

from gushen_infra import backup, redis

from .kube import provider
from .kube.live import kubectl
from .kube.stack import rendered

pytestmark = pytest.mark.kube


def one(objects, kind: str, name: str):
    return next(o for o in objects if o.manifest["kind"] == kind and o.manifest["metadata"]["name"] == name)


def test_backups_on_again_adopt_the_bound_claim_without_waiting_out_the_claim_await(kube):
    """Backups off then on again (or a re-create after a destroy): the claim ``retainOnDelete`` kept
    is Bound, and the upserting provider's create meets it. ``untilCoreV1PersistentVolumeClaimReady``
    (``provider/pkg/await/awaiters.go``) accepts only ``Pending`` on create for a
    WaitForFirstConsumer class and waits a fixed 5 minutes (``WatchUntil(pvcReady, 5*time.Minute)``:
    no customTimeouts reaches it), so without ``pulumi.com/skipAwait`` that ``up`` fails."""
    ns = f"bk-{secrets.token_hex(3)}"
    objects = rendered("prod", {"namespace": ns})
    namespace, claim = one(objects, "Namespace", ns), one(objects, "PersistentVolumeClaim", backup.PVC)
    assert claim.options["retainOnDelete"] and claim.setting("upsertExistingObjects")
    first = kube.engine()
    try:
        first.up([namespace, claim])
        # A backup pod mounts it: the scheduler picks the node, the provisioner and PV controller bind it.
        core = kubernetes.client.CoreV1Api(kube.api)
        core.create_namespaced_pod(ns, {"metadata": {"name": "user"}, "spec": {
            "containers": [{"name": "c", "image": "busybox", "volumeMounts": [{"name": "d", "mountPath": "/d"}]}],
            "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": backup.PVC}}]}})
        kube.players.settle(lambda: core.read_namespaced_persistent_volume_claim(backup.PVC, ns).status.phase == "Bound",
                            timeout=60, what="the backup claim bound")
        core.delete_namespaced_pod("user", ns, grace_period_seconds=0)

        # Backups off: retainOnDelete drops the claim from the state only. On again: a new resource, a create.
        again = kube.engine()
        again.up([claim])
        prov = again.provider(claim)
        assert prov.get(claim.manifest)["status"]["phase"] == "Bound"
        # The provider's await after that create; 10 s stand for its 5 minutes (Bound never turns Pending).
        provider.await_ready(prov, claim.manifest, step=kube.players.step, timeout=10, created=True)
    finally:
        kube.clean([namespace])


@pytest.mark.parametrize("kind, name", [("Deployment", "ai-qtrd-web"), ("StatefulSet", "redis")])
def test_replicas_set_by_kubectl_scale_are_taken_back_by_the_next_up(kube, kind, name):
    """``kubectl scale`` writes ``.spec.replicas`` through the ``scale`` subresource under its own
    manager; ``fixCSAFieldManagers`` hands over only entries without a subresource (fluxcd ssa
    ``matchFieldManager``), so the next update conflicts on it, in the preview and in ``up``. The
    program's count wins on purpose: the PDBs, the capacity policy and Sentinel's quorum are
    sized from it (docs/changes.md)."""
    ns = f"sc-{secrets.token_hex(3)}"
    objects = rendered("prod", {"namespace": ns})
    namespace, workload = one(objects, "Namespace", ns), one(objects, kind, name)
    engine = kube.engine()
    try:
        engine.up([namespace])
        engine.up([workload])
        engine.up([workload])  # the first update hands the create's fields to the SSA manager
        want = workload.manifest["spec"]["replicas"]
        kubectl(kube.kubeconfig, "-n", ns, "scale", f"{kind.lower()}/{name}", f"--replicas={want + 2}")
        live = engine.provider(workload).get(workload.manifest)
        scaler = [m for m in live["metadata"]["managedFields"] if m.get("subresource") == "scale"]
        assert [(m["manager"], m["operation"]) for m in scaler] == [("kubectl", "Update")]

        engine.up([workload], preview=True)
        engine.up([workload])
        live = engine.provider(workload).get(workload.manifest)
        assert live["spec"]["replicas"] == want
        assert not [m for m in live["metadata"]["managedFields"] if m.get("subresource") == "scale"]
    finally:
        kube.clean([namespace])


def await_seconds(obj, operation: str) -> float:
    """The provider's await timeout for ``obj``: ``metadata.TimeoutDuration`` (``customTimeouts``
    first, then ``pulumi.com/timeoutSeconds``), else the kind's default (``DEFAULT_TIMEOUTS``)."""
    given = obj.options.get("customTimeouts", {}).get(operation)
    if given:
        assert given.endswith("s"), given
        return float(given[:-1])
    return provider.timeout_for(obj.manifest)


def test_the_redis_roll_fits_in_the_statefulset_await(kube):
    """A roll replaces the pods one at a time (``RollingUpdate``, the server's default): each old pod
    stops within its grace period, each new one loads its AOF, resyncs and waits for Sentinel
    (``redis.POD_START_SECONDS``). Read from the object the server stored, the worst case must fit
    in the provider's await, or ``up`` fails in mid-roll (the provider's default: 10 minutes)."""
    ns = f"rl-{secrets.token_hex(3)}"
    objects = rendered("prod", {"namespace": ns})
    namespace, sts = one(objects, "Namespace", ns), one(objects, "StatefulSet", redis.NAME)
    engine = kube.engine()
    try:
        engine.up([namespace])
        live = engine.up([sts])[0]
        spec = live["spec"]
        assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
        grace = spec["template"]["spec"]["terminationGracePeriodSeconds"]
        worst = spec["replicas"] * (grace + redis.POD_START_SECONDS)
        print(f"redis roll, worst case: {spec['replicas']} x ({grace} s + {redis.POD_START_SECONDS} s) = {worst} s")
        for operation in ("create", "update"):
            assert await_seconds(sts, operation) >= worst, operation
    finally:
        kube.clean([namespace])
