"""``tests/kube/provider.py`` against a real kube-apiserver: the requests pulumi-kubernetes sends
(``provider/pkg/await/await.go``: ``Creation``, ``ssaUpdate``, ``fixCSAFieldManagers``,
``patchForce``, ``Deletion``; ``awaiters.go``: ``untilCoreV1PersistentVolumeClaimReady``) have
the effects the kube tier's proofs rely on."""

from __future__ import annotations

import kubernetes
import pytest
from kubernetes.dynamic.exceptions import ConflictError, UnprocessibleEntityError

from .kube import provider
from .kube.provider import Provider

pytestmark = pytest.mark.kube


def config_map(ns: str, data: dict, annotations: dict | None = None) -> dict:
    meta = {"name": "settings", "namespace": ns, **({"annotations": annotations} if annotations else {})}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def managers(live: dict) -> set[tuple[str, str]]:
    return {(m["manager"], m["operation"]) for m in live["metadata"].get("managedFields") or []}


def test_create_is_a_client_side_create_and_the_first_update_hands_its_fields_over(kube, kube_namespace):
    prov = Provider(kube.dynamic)
    prov.create(config_map(kube_namespace, {"a": "1"}))
    created = prov.get(config_map(kube_namespace, {}))
    assert managers(created) == {("pulumi-kubernetes", "Update")}
    # A preview does not hand over (fixCSAFieldManagers returns early when c.Preview) and changes nothing.
    prov.update(config_map(kube_namespace, {"a": "2"}), preview=True)
    assert prov.get(config_map(kube_namespace, {}))["data"] == {"a": "1"}
    assert managers(prov.get(config_map(kube_namespace, {}))) == {("pulumi-kubernetes", "Update")}
    # Dropping a key: only an SSA manager that owns it removes it, so the hand-over must have happened.
    updated = prov.update(config_map(kube_namespace, {"b": "2"}))
    assert managers(updated) == {(prov.field_manager, "Apply")}
    assert updated["data"] == {"b": "2"}


def test_a_field_another_manager_owns_conflicts_unless_patch_force(kube, kube_namespace):
    prov = Provider(kube.dynamic)
    prov.create(config_map(kube_namespace, {"a": "1"}))
    prov.update(config_map(kube_namespace, {"a": "1"}))
    kubernetes.client.CoreV1Api(kube.api).patch_namespaced_config_map(
        "settings", kube_namespace, {"data": {"a": "operator"}}, field_manager="helm")
    with pytest.raises(ConflictError):
        prov.update(config_map(kube_namespace, {"a": "2"}))
    # patchForce forces in a preview when the live object still has a CSA manager of the provider;
    # helm is none of them, so the preview conflicts too.
    with pytest.raises(ConflictError):
        prov.update(config_map(kube_namespace, {"a": "2"}), preview=True)
    forced = prov.update(config_map(kube_namespace, {"a": "2"}, {provider.PATCH_FORCE: "true"}))
    assert forced["data"] == {"a": "2"}
    assert Provider(kube.dynamic, enable_patch_force=True).update(config_map(kube_namespace, {"a": "3"}))["data"] == {"a": "3"}


def test_create_of_an_existing_object_fails_and_an_upsert_conflicts_on_a_differing_field(kube, kube_namespace):
    Provider(kube.dynamic).create(config_map(kube_namespace, {"a": "1"}))
    with pytest.raises(ConflictError, match="already exists"):
        Provider(kube.dynamic).create(config_map(kube_namespace, {"a": "2"}))
    upsert = Provider(kube.dynamic, upsert_existing_objects=True)
    # An upsert is a server-side apply without force outside a preview: another manager's field
    # with another value conflicts; an equal value is shared, a new one added.
    with pytest.raises(ConflictError, match="conflict"):
        upsert.create(config_map(kube_namespace, {"a": "2"}))
    assert upsert.create(config_map(kube_namespace, {"a": "1", "b": "2"}))["data"] == {"a": "1", "b": "2"}


def test_preview_of_an_object_in_a_namespace_not_created_yet_is_not_an_error(kube):
    answer = Provider(kube.dynamic).create(config_map("not-created-yet", {"a": "1"}), preview=True)
    assert answer == provider.NAMESPACE_MISSING


def test_an_immutable_change_is_refused_in_place_and_replaced_delete_first(kube, kube_namespace):
    def claim(size: str, mode: str) -> dict:
        return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": kube_namespace},
                "spec": {"accessModes": [mode], "storageClassName": "local-path", "resources": {"requests": {"storage": size}}}}

    prov = Provider(kube.dynamic)
    prov.create(claim("1Gi", "ReadWriteOnce"))
    # untilCoreV1PersistentVolumeClaimReady: a WaitForFirstConsumer claim is ready Pending on create.
    provider.await_ready(prov, claim("1Gi", "ReadWriteOnce"), timeout=10)
    assert prov.get(claim("1Gi", "ReadWriteOnce"))["status"]["phase"] == "Pending"
    with pytest.raises(UnprocessibleEntityError, match="immutable"):
        prov.update(claim("1Gi", "ReadWriteMany"))
    replaced = prov.replace(claim("1Gi", "ReadWriteMany"), step=kube.players.step)
    assert replaced["spec"]["accessModes"] == ["ReadWriteMany"]


def test_default_await_timeouts_are_the_providers():
    assert provider.timeout_for({"kind": "Deployment", "metadata": {}}) == 600
    assert provider.timeout_for({"kind": "StatefulSet", "metadata": {}}) == 600
    assert provider.timeout_for({"kind": "Service", "metadata": {}}) == 600
    assert provider.timeout_for({"kind": "PersistentVolumeClaim", "metadata": {}}) == 300
    assert provider.timeout_for({"kind": "Service", "metadata": {"annotations": {provider.TIMEOUT_SECONDS: "42"}}}) == 42


def test_a_new_statefulset_is_not_ready_while_it_still_holds_pods_it_adopted():
    """The status the controller reports for a new set (generation 1) over three Ready pods of the
    old StatefulSet's revision (the adoption runbook's step 5): ``pulumi up`` waits for the roll."""
    live = {"metadata": {"generation": 1}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "currentReplicas": 0,
                       "updatedReplicas": 0, "currentRevision": "redis-new", "updateRevision": "redis-new"}}
    assert not provider.statefulset_ready(live)
    rolled = {**live, "status": {**live["status"], "currentReplicas": 3, "updatedReplicas": 3}}
    assert provider.statefulset_ready(rolled)
