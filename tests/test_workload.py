"""The workload builder: secure defaults written once, labels computed once."""

from __future__ import annotations

from dataclasses import replace

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
    assert spec["replicas"] == 2
    assert "replicas" not in workload.deployment_spec(labels, None, {}), "HPA-managed: no replicas field"


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
    ("/tmp", "/__"),  # a directory named without a letter or digit
])
def test_each_writable_path_gets_its_own_validly_named_volume(paths):
    """Two paths on one volume would share their files; a name the API server refuses fails the deploy."""
    pod = workload.pod_spec([Container("app", "img:1", RESOURCES, writable_paths=paths)], workload.pin_to_node("n1"))
    assert list(pod_problems("pod", pod)) == []
    names = [m["name"] for m in pod["containers"][0]["volumeMounts"]]
    assert len(set(names)) == len(paths) == len(pod["volumes"])


# --- what each builder writes: the fields Kubernetes acts on -------------------------------------

TIMING = workload.ProbeTiming(10, 5, 2, 3)
TIMES = {"initialDelaySeconds": 10, "periodSeconds": 5, "timeoutSeconds": 2, "failureThreshold": 3}
RESTRICTED = {
    "runAsNonRoot": True, "runAsUser": 999, "runAsGroup": 999, "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False, "privileged": False, "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


@pytest.mark.parametrize("labels, expected", [
    (AppLabels("ai-qtrd-web", "web", "v18"),
     {"app": "ai-qtrd-web", "app.kubernetes.io/name": "ai-qtrd-web", "app.kubernetes.io/component": "web",
      "app.kubernetes.io/part-of": "gushen", "app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/version": "v18"}),
    # An untagged image has no version to show.
    (AppLabels("redis", "cache"),
     {"app": "redis", "app.kubernetes.io/name": "redis", "app.kubernetes.io/component": "cache",
      "app.kubernetes.io/part-of": "gushen", "app.kubernetes.io/managed-by": "pulumi"}),
])
def test_labels_name_the_app_its_component_and_its_version_when_known(labels, expected):
    assert labels.all == expected
    assert labels.selector == {"app": expected["app"]}


def test_object_metadata_puts_the_object_in_its_namespace_with_the_apps_labels():
    labels = AppLabels("x", "web", "v1")
    assert workload.metadata("x", "ai-qtrd", labels, annotations={"a": "b"}) == {
        "name": "x", "namespace": "ai-qtrd", "labels": labels.all, "annotations": {"a": "b"}}


@pytest.mark.parametrize("image, tag", [
    ("gushen-web:v18", "v18"),
    ("registry:5000/team/redis:7.2-alpine", "7.2-alpine"),
    ("registry:5000/team/redis", None),
    ("redis:7.2@sha256:" + "a" * 64, "7.2"),
    ("redis@sha256:" + "a" * 64, None),
])
def test_image_tag_is_the_version_label(image, tag):
    assert workload.image_tag(image) == tag


def test_checksum_is_the_same_whatever_the_order_of_the_keys():
    """Pods roll on a change of the data only: a dict built in another order must not roll them."""
    assert workload.checksum({"a": "1", "b": "2"}) == workload.checksum({"b": "2", "a": "1"})


def test_probes_carry_their_handler_and_every_timing():
    assert workload.http_probe("/health", "http", TIMING) == {"httpGet": {"path": "/health", "port": "http"}, **TIMES}
    assert workload.exec_probe(("redis-cli", "ping"), TIMING) == {"exec": {"command": ["redis-cli", "ping"]}, **TIMES}


# The builders run in the test, not in the table: a table is built once, at collection, and
# `make mutate`'s workers fork from a process that collected before any mutant was switched on
# (mutmut 3.8 ``runners/harness.py`` ``PytestRunner.warm_up``), so a mutant never reached a table.
@pytest.mark.parametrize("build, args, expected", [
    (workload.env_value, ("A", "1"), {"name": "A", "value": "1"}),
    (workload.env_secret, ("PW", "s"), {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "PW"}}}),
    (workload.env_secret, ("PW", "s", "pw"), {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}}),
    (workload.env_config, ("K", "cm"), {"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "K"}}}),
    (workload.env_config, ("K", "cm", "k"), {"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}),
    (workload.env_field, ("POD", "metadata.name"), {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}),
])
def test_env_entries_read_a_value_a_secret_key_a_config_key_or_a_pod_field(build, args, expected):
    assert build(*args) == expected


def test_a_container_gets_everything_it_asks_for_beside_the_secure_defaults():
    spec = Container(
        "redis", "redis:7", RESOURCES, ports={"redis": 6379}, env=[{"name": "A", "value": "1"}],
        command=("redis-server",), args=("/etc/redis/redis.conf",), liveness={"exec": 1}, readiness={"exec": 2},
        writable_paths=("/data",), volume_mounts=[{"name": "config", "mountPath": "/etc/redis"}], run_as_user=999,
        pre_stop=("redis-cli", "failover"),
    )
    assert workload.container(spec) == {
        "name": "redis", "image": "redis:7", "imagePullPolicy": "Never", "resources": RESOURCES,
        "securityContext": RESTRICTED, "command": ["redis-server"], "args": ["/etc/redis/redis.conf"],
        "ports": [{"name": "redis", "containerPort": 6379, "protocol": "TCP"}], "env": [{"name": "A", "value": "1"}],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "config", "mountPath": "/etc/redis"}],
        "livenessProbe": {"exec": 1}, "readinessProbe": {"exec": 2},
        # The given hand-over replaces the sleep.
        "lifecycle": {"preStop": {"exec": {"command": ["redis-cli", "failover"]}}},
    }


def test_a_run_to_completion_container_has_no_lifecycle_and_nothing_it_did_not_ask_for():
    spec = Container("job", "img:1", RESOURCES, writable_paths=(), pre_stop_sleep_seconds=None)
    assert workload.container(spec) == {
        "name": "job", "image": "img:1", "imagePullPolicy": "Never", "resources": RESOURCES,
        "securityContext": {**RESTRICTED, "runAsUser": 1000, "runAsGroup": 1000},
    }
    assert workload.container(replace(spec, pre_stop_sleep_seconds=12))["lifecycle"] == {
        "preStop": {"exec": {"command": ["/bin/sh", "-c", "sleep 12"]}}}


def test_a_pod_shares_one_volume_per_writable_path_and_runs_as_its_user():
    main = Container("main", "img:1", RESOURCES, writable_paths=("/tmp", "/data"))
    sidecar = Container("exporter", "img:2", RESOURCES)
    init = Container("seed", "img:1", RESOURCES, writable_paths=("/data",))
    pod = workload.pod_spec([main, sidecar], workload.pin_to_node("n1"), init_containers=[init],
                            volumes=[{"name": "config", "configMap": {"name": "cm"}}], run_as_user=999,
                            termination_grace_seconds=60, service_account="backup")
    assert pod == {
        "automountServiceAccountToken": False, "enableServiceLinks": False, "terminationGracePeriodSeconds": 60,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 999, "runAsGroup": 999, "fsGroup": 999,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "nodeSelector": {"kubernetes.io/hostname": "n1"},
        "containers": [workload.container(main), workload.container(sidecar)],
        "initContainers": [workload.container(init)],
        "volumes": [{"name": "data", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}},
                    {"name": "config", "configMap": {"name": "cm"}}],
        "serviceAccountName": "backup",
    }
    assert list(pod_problems("pod", pod)) == []


def test_a_pod_template_carries_the_labels_and_only_given_annotations():
    labels = AppLabels("x", "web")
    assert workload.pod_template(labels, {"c": 1}) == {"metadata": {"labels": labels.all}, "spec": {"c": 1}}
    assert workload.pod_template(labels, {}, {"checksum/config": "abc"})["metadata"] == {
        "labels": labels.all, "annotations": {"checksum/config": "abc"}}


def test_a_statefulset_rolls_one_pod_at_a_time_and_keeps_its_volumes():
    labels = AppLabels("redis", "cache", "7")
    claim = workload.volume_claim("data", labels, "local-path", "1Gi")
    assert claim == {
        "metadata": {"name": "data", "labels": AppLabels("redis", "cache").all},  # immutable: no version
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local-path",
                 "resources": {"requests": {"storage": "1Gi"}}},
    }
    assert workload.statefulset_spec(labels, 3, {"t": 1}, "redis-headless", [claim], "Parallel") == {
        "serviceName": "redis-headless", "replicas": 3, "selector": {"matchLabels": {"app": "redis"}},
        "podManagementPolicy": "Parallel",
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "revisionHistoryLimit": 10, "volumeClaimTemplates": [claim], "template": {"t": 1},
    }
    assert workload.statefulset_spec(labels, 3, {}, "h", [])["podManagementPolicy"] == "OrderedReady"
    assert workload.deployment_spec(labels, 2, {})["revisionHistoryLimit"] == 10


def test_a_budget_lets_one_pod_go_at_a_time_unless_the_pods_are_pinned_to_a_node():
    labels = AppLabels("api", "api")
    assert workload.disruption_budget_spec(labels, workload.prefer_node("n2")) == {
        "maxUnavailable": 1, "selector": {"matchLabels": {"app": "api"}}}
    assert workload.disruption_budget_spec(labels, workload.pin_to_node("n2")) is None


def test_a_service_is_cluster_internal_and_targets_the_pods_ports_by_name():
    labels = AppLabels("redis", "cache", "7")
    assert workload.service_spec(labels, {"redis": 6379, "sentinel": 26379}, clusterIP="None") == {
        "type": "ClusterIP", "selector": {"app": "redis"},
        "ports": [{"name": "redis", "port": 6379, "targetPort": "redis", "protocol": "TCP"},
                  {"name": "sentinel", "port": 26379, "targetPort": "sentinel", "protocol": "TCP"}],
        "clusterIP": "None",
    }


def test_an_autoscaler_scales_its_deployment_on_average_cpu_of_the_requests():
    assert workload.autoscaler_spec("ai-qtrd-web", 2, 5, 70) == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ai-qtrd-web"},
        "minReplicas": 2, "maxReplicas": 5,
        "metrics": [{"type": "Resource",
                     "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
    }
