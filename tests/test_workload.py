"""The workload builder: secure defaults written once, labels computed once."""

from __future__ import annotations

import pytest

from gushen_infra import workload
from gushen_infra.workload import AppLabels, Container

from .conftest import run_stack
from .kube_validation import manifest_problems, pod_problems

RESOURCES = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}


def test_selector_is_a_subset_of_the_labels_and_excludes_the_version():
    labels = AppLabels("ai-qtrd-web", "web", "v18")
    assert labels.selector.items() <= labels.all.items()
    assert "app.kubernetes.io/version" not in labels.selector, "a new tag must not change an immutable selector"
    assert labels.all["app.kubernetes.io/part-of"] == "gushen"
    assert labels.all["app.kubernetes.io/managed-by"] == "pulumi"
    assert labels.all["app"] == "ai-qtrd-web", "the spec's kubectl commands select on app="


def test_container_gets_the_restricted_security_context_and_local_images_only():
    c = workload.container(Container("app", "img:1", RESOURCES))
    sc = c["securityContext"]
    assert c["imagePullPolicy"] == "Never"
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 1000
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["lifecycle"]["preStop"]["exec"]["command"] == ["/bin/sh", "-c", "sleep 5"]


def test_writable_paths_become_emptydir_mounts_backed_by_pod_volumes():
    spec = Container("app", "img:1", RESOURCES, writable_paths=("/tmp", "/app/.next/cache"))
    pod = workload.pod_spec([spec], workload.pin_to_node("n1"))
    mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert set(mounts) == {"/tmp", "/app/.next/cache"}
    for name in mounts.values():
        assert volumes[name] == {"name": name, "emptyDir": {}}


def test_pod_spec_defaults():
    pod = workload.pod_spec([Container("app", "img:1", RESOURCES)], workload.pin_to_node("n1"))
    assert pod["automountServiceAccountToken"] is False
    assert pod["terminationGracePeriodSeconds"] == 30
    assert pod["nodeSelector"] == {"kubernetes.io/hostname": "n1"}
    assert pod["securityContext"]["fsGroup"] == 1000
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_preferred_node_affinity():
    affinity = workload.prefer_node("n2")["affinity"]["nodeAffinity"]
    (term,) = affinity["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["weight"] == 100
    assert term["preference"]["matchExpressions"] == [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n2"]}
    ]


def test_deployment_rolls_with_zero_unavailable_and_one_surge():
    labels = AppLabels("x", "web")
    spec = workload.deployment_spec(labels, 2, workload.pod_template(labels, {}))
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    assert spec["selector"] == {"matchLabels": labels.selector}
    assert workload.deployment_spec(labels, None, {}).get("replicas") is None, "HPA-managed: no replicas field"


def test_image_tag():
    assert workload.image_tag("gushen-web:v18") == "v18"
    assert workload.image_tag("registry:5000/team/redis:7.2-alpine") == "7.2-alpine"
    assert workload.image_tag("registry:5000/team/redis") is None


def test_checksum_changes_with_the_data():
    assert workload.checksum({"a": "1"}) == workload.checksum({"a": "1"})
    assert workload.checksum({"a": "1"}) != workload.checksum({"a": "2"})


@pytest.mark.parametrize("stack", ["prod", "dev", "ci"])
def test_every_pod_and_service_of_each_stack_is_one_the_api_server_accepts(stack):
    """Volume, container and port names, mounts, probes' ports, labels, selectors, Service
    targetPorts (tests/kube_validation.py): a refused field fails ``pulumi up`` half-way."""
    assert manifest_problems(run_stack(stack).manifests) == []


@pytest.mark.parametrize("paths", [
    ("/tmp", "/app/.next/cache", "/home/app"),
    ("/var/Cache/App.d", "/srv/my_data", "/data--x"),
])
def test_each_writable_path_gets_its_own_validly_named_volume(paths):
    """Two paths on one volume would share their files; a name the API server refuses fails the deploy."""
    pod = workload.pod_spec([Container("app", "img:1", RESOURCES, writable_paths=paths)], workload.pin_to_node("n1"))
    assert list(pod_problems("pod", pod)) == []
    names = [m["name"] for m in pod["containers"][0]["volumeMounts"]]
    assert len(set(names)) == len(paths) == len(pod["volumes"])
