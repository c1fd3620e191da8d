"""The one workload builder: labels, containers, probes, security contexts and pod templates.

Every pod of the platform is built here, so the secure defaults (non-root, read-only root
filesystem, no privilege escalation, all capabilities dropped, RuntimeDefault seccomp, no
service-account token, local images only) are written once. The functions return plain
Kubernetes-shaped dicts (camelCase), which is also what the engine, the render and the
policy pack see.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi

PART_OF = "gushen"
MANAGED_BY = "pulumi"
HOSTNAME_LABEL = "kubernetes.io/hostname"
#: The cluster pulls from no registry: images are imported on the nodes (spec section 7).
IMAGE_PULL_POLICY = "Never"
TERMINATION_GRACE_SECONDS = 30
PRE_STOP_SLEEP_SECONDS = 5
APP_UID = 1000

Json = dict[str, Any]


@dataclass(frozen=True)
class AppLabels:
    """Labels of one application, computed once and reused by selectors and Services."""

    name: str
    """``app`` and ``app.kubernetes.io/name`` (the spec's kubectl commands select on ``app``)."""
    component: str
    """``app.kubernetes.io/component``: web, api, cache, ..."""
    version: Optional[str] = None
    """``app.kubernetes.io/version``, usually the image tag; never part of a selector."""

    @property
    def selector(self) -> dict[str, str]:
        """The immutable subset used by Deployment/StatefulSet selectors and Services: ``app`` only.

        The running cluster's objects (applied with kubectl, spec 13-16) select on ``app: <name>``.
        A selector is immutable, so any other key would make the first ``pulumi up`` replace
        ``ai-qtrd-web``, ``ai-qtrd-api`` and StatefulSet ``redis`` (delete, then create: an outage),
        and the new StatefulSet could not adopt the running Redis pods (docs/adoption.md).
        """
        return {"app": self.name}

    @property
    def all(self) -> dict[str, str]:
        labels = {
            **self.selector,
            "app.kubernetes.io/name": self.name,
            "app.kubernetes.io/component": self.component,
            "app.kubernetes.io/part-of": PART_OF,
            "app.kubernetes.io/managed-by": MANAGED_BY,
        }
        if self.version:
            labels["app.kubernetes.io/version"] = self.version
        return labels


def image_tag(image: str) -> Optional[str]:
    """The tag of ``repo:tag`` (``None`` for an untagged or digest-only reference)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def metadata(name: str, namespace: pulumi.Input[str], labels: AppLabels, **extra: Any) -> Json:
    return {"name": name, "namespace": namespace, "labels": labels.all, **extra}


def checksum(data: Any) -> str:
    """A stable digest of config data, for pod annotations that roll pods on a change."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


# --- probes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeTiming:
    initial_delay_seconds: int
    period_seconds: int
    timeout_seconds: int
    failure_threshold: int

    def as_dict(self) -> Json:
        return {
            "initialDelaySeconds": self.initial_delay_seconds,
            "periodSeconds": self.period_seconds,
            "timeoutSeconds": self.timeout_seconds,
            "failureThreshold": self.failure_threshold,
        }


def http_probe(path: str, port: int | str, timing: ProbeTiming) -> Json:
    return {"httpGet": {"path": path, "port": port}, **timing.as_dict()}


def exec_probe(command: Sequence[str], timing: ProbeTiming) -> Json:
    return {"exec": {"command": list(command)}, **timing.as_dict()}


# --- env ---------------------------------------------------------------------------------------


def env_value(name: str, value: pulumi.Input[str]) -> Json:
    return {"name": name, "value": value}


def env_secret(name: str, secret: pulumi.Input[str], key: Optional[str] = None) -> Json:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key or name}}}


def env_field(name: str, field_path: str) -> Json:
    """Downward API: ``metadata.name`` and friends."""
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": field_path}}}


def env_config(name: str, config_map: pulumi.Input[str], key: Optional[str] = None) -> Json:
    return {"name": name, "valueFrom": {"configMapKeyRef": {"name": config_map, "key": key or name}}}


# --- containers and pods -----------------------------------------------------------------------


def volume_name(path: str) -> str:
    """A DNS-1123 label naming the volume of a directory (``/app/.next/cache`` -> ``app-next-cache``)."""
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "root"


@dataclass(frozen=True)
class Container:
    """What differs between containers; everything else is a secure default."""

    name: str
    image: str
    resources: Mapping[str, Mapping[str, str]]
    """``{"requests": {"cpu", "memory"}, "limits": {"cpu", "memory"}}``."""
    ports: Mapping[str, int] = field(default_factory=dict)
    """Named container ports (``{"http": 3000}``)."""
    env: Sequence[Json] = ()
    command: Optional[Sequence[str]] = None
    args: Optional[Sequence[str]] = None
    liveness: Optional[Json] = None
    readiness: Optional[Json] = None
    writable_paths: Sequence[str] = ("/tmp",)
    """Directories the app writes to: each becomes an ``emptyDir`` (the root filesystem is read-only)."""
    volume_mounts: Sequence[Json] = ()
    run_as_user: int = APP_UID
    pre_stop_sleep_seconds: Optional[int] = PRE_STOP_SLEEP_SECONDS
    """Seconds to keep serving after the pod leaves the endpoints, so no request is cut off."""
    pre_stop: Optional[Sequence[str]] = None
    """A preStop exec command (e.g. a hand-over) run instead of the sleep."""

    @property
    def writable_volumes(self) -> list[Json]:
        return [{"name": volume_name(p), "emptyDir": {}} for p in self.writable_paths]


def security_context(run_as_user: int = APP_UID) -> Json:
    return {
        "runAsNonRoot": True,
        "runAsUser": run_as_user,
        "runAsGroup": run_as_user,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container(spec: Container) -> Json:
    out: Json = {
        "name": spec.name,
        "image": spec.image,
        "imagePullPolicy": IMAGE_PULL_POLICY,
        "resources": {k: dict(v) for k, v in spec.resources.items()},
        "securityContext": security_context(spec.run_as_user),
    }
    if spec.command is not None:
        out["command"] = list(spec.command)
    if spec.args is not None:
        out["args"] = list(spec.args)
    if spec.ports:
        out["ports"] = [
            {"name": name, "containerPort": port, "protocol": "TCP"} for name, port in spec.ports.items()
        ]
    if spec.env:
        out["env"] = list(spec.env)
    mounts = [{"name": volume_name(p), "mountPath": p} for p in spec.writable_paths]
    mounts += list(spec.volume_mounts)
    if mounts:
        out["volumeMounts"] = mounts
    if spec.liveness:
        out["livenessProbe"] = spec.liveness
    if spec.readiness:
        out["readinessProbe"] = spec.readiness
    if spec.pre_stop:
        out["lifecycle"] = {"preStop": {"exec": {"command": list(spec.pre_stop)}}}
    elif spec.pre_stop_sleep_seconds:
        out["lifecycle"] = {
            "preStop": {"exec": {"command": ["/bin/sh", "-c", f"sleep {spec.pre_stop_sleep_seconds}"]}}
        }
    return out


def pin_to_node(node: str) -> Json:
    """Hard placement: ``nodeSelector`` on the node's hostname label."""
    return {"nodeSelector": {HOSTNAME_LABEL: node}}


def prefer_node(node: str, weight: int = 100) -> Json:
    """Soft placement: preferred node affinity, so the pod still runs if the node is gone."""
    term = {"matchExpressions": [{"key": HOSTNAME_LABEL, "operator": "In", "values": [node]}]}
    return {
        "affinity": {
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": weight, "preference": term}]
            }
        }
    }


def pod_spec(
    containers: Sequence[Container],
    placement: Json,
    *,
    init_containers: Sequence[Container] = (),
    volumes: Sequence[Json] = (),
    run_as_user: int = APP_UID,
    termination_grace_seconds: int = TERMINATION_GRACE_SECONDS,
    service_account: Optional[str] = None,
) -> Json:
    """A pod spec with the platform's security defaults and the given placement."""
    all_volumes: list[Json] = []
    for spec in (*init_containers, *containers):
        for volume in spec.writable_volumes:
            if volume not in all_volumes:
                all_volumes.append(volume)
    all_volumes += list(volumes)
    out: Json = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": termination_grace_seconds,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": run_as_user,
            "runAsGroup": run_as_user,
            "fsGroup": run_as_user,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        **placement,
        "containers": [container(c) for c in containers],
    }
    if init_containers:
        out["initContainers"] = [container(c) for c in init_containers]
    if all_volumes:
        out["volumes"] = all_volumes
    if service_account:
        out["serviceAccountName"] = service_account
    return out


def pod_template(labels: AppLabels, spec: Json, annotations: Optional[Mapping[str, str]] = None) -> Json:
    meta: Json = {"labels": labels.all}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"metadata": meta, "spec": spec}


def rolling_update(max_unavailable: int | str = 0, max_surge: int | str = 1) -> Json:
    """Zero-downtime rollout (spec 12.1): start the new pod before stopping the old one."""
    return {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": max_unavailable, "maxSurge": max_surge}}


def deployment_spec(labels: AppLabels, replicas: Optional[int], template: Json) -> Json:
    spec: Json = {
        "selector": {"matchLabels": labels.selector},
        "strategy": rolling_update(),
        "revisionHistoryLimit": 10,
        "template": template,
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return spec


def statefulset_spec(
    labels: AppLabels,
    replicas: int,
    template: Json,
    service_name: pulumi.Input[str],
    volume_claims: Sequence[Json],
    pod_management_policy: str = "OrderedReady",
) -> Json:
    """A StatefulSet that rolls one pod at a time, highest ordinal first, and never deletes its PVCs."""
    return {
        "serviceName": service_name,
        "replicas": replicas,
        "selector": {"matchLabels": labels.selector},
        "podManagementPolicy": pod_management_policy,
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        # Data outlives the StatefulSet: deleting or scaling it down leaves the volumes in place.
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "revisionHistoryLimit": 10,
        "volumeClaimTemplates": list(volume_claims),
        "template": template,
    }


def volume_claim(name: str, labels: AppLabels, storage_class: str, size: str) -> Json:
    """A ReadWriteOnce PVC template. Its labels carry no version: the template is immutable."""
    stable = AppLabels(labels.name, labels.component)
    return {
        "metadata": {"name": name, "labels": stable.all},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": storage_class,
            "resources": {"requests": {"storage": size}},
        },
    }


def disruption_budget_spec(labels: AppLabels, placement: Json) -> Optional[Json]:
    """At most one pod of the app down at a time during voluntary disruptions (drains, upgrades),
    or ``None`` (no budget) for pods pinned to one node.

    A pinned pod evicted by a drain of its node can run nowhere else: it stays Pending, counts
    as unavailable and uses up the budget, so every further eviction is refused and the drain
    never ends. Without a budget the drain stops all of them at once; they could not have run
    anywhere else while the node is down anyway (tests/test_drain.py computes this).
    """
    if placement.get("nodeSelector", {}).get(HOSTNAME_LABEL):
        return None
    return {"maxUnavailable": 1, "selector": {"matchLabels": labels.selector}}


def autoscaler_spec(deployment: str, min_replicas: int, max_replicas: int, cpu_utilization: int) -> Json:
    """An ``autoscaling/v2`` HPA on average CPU utilization of a Deployment."""
    return {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment},
        "minReplicas": min_replicas,
        "maxReplicas": max_replicas,
        "metrics": [{
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu_utilization}},
        }],
    }


def service_spec(labels: AppLabels, ports: Mapping[str, int], **extra: Any) -> Json:
    """A ClusterIP Service (Traefik is the only way in) on the labels' selector."""
    return {
        "type": "ClusterIP",
        "selector": labels.selector,
        "ports": [
            {"name": name, "port": port, "targetPort": name, "protocol": "TCP"} for name, port in ports.items()
        ],
        **extra,
    }
