"""The API server's validation of the pods and Services this program renders, offline.

A field the API server refuses fails ``pulumi up`` (the kube tier checks it against a real API
server, but is not run on every change): the rules here are those of kubernetes
``pkg/apis/core/validation/validation.go`` that the workload builder can break —
``ValidateVolumes`` (names are DNS-1123 labels, unique; one volume type each), ``validateVolumeMounts`` (a mount names a
volume of the pod, or a claim template of the StatefulSet), ``validateContainers`` /
``validateInitContainers`` (names DNS-1123 labels, unique across both), ``validateContainerPorts``
(``IsValidPortName``, unique names, port 1-65535, protocol), ``validateProbe``'s handlers (a named
port must be a port of the container, else the kubelet's ``findPort`` fails the probe: the pod is
never Ready) and ``ValidateServiceSpec`` (port names, ``targetPort``); and
apimachinery ``ValidateLabels`` and the Deployment/StatefulSet rule that the selector selects
the template's labels (``apps/validation``: "selector does not match template labels").
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
#: apimachinery ``IsValidPortName``: 1-15 of [a-z0-9-], a letter, no "--", not starting or ending in "-".
PORT_NAME = re.compile(r"^(?!-)(?!.*--)(?=.*[a-z])[-a-z0-9]{1,15}(?<!-)$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
PROTOCOLS = ("TCP", "UDP", "SCTP")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
#: The volume types this program uses (``validateVolumeSource``: exactly one per volume).
VOLUME_SOURCES = ("emptyDir", "configMap", "secret", "persistentVolumeClaim", "projected", "hostPath")


def _dns_label(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 63 and bool(DNS_LABEL.match(value))


def label_problems(where: str, labels: Mapping[str, Any]) -> Iterator[str]:
    for key, value in labels.items():
        if not LABEL_KEY.match(key) or len(key.rsplit("/", 1)[-1]) > 63:
            yield f"{where}: label key {key!r} is not a qualified name"
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.match(value):
            yield f"{where}: label {key}={value!r} is not a valid label value"


def _container_problems(where: str, c: Mapping[str, Any], volumes: set[str]) -> Iterator[str]:
    if c.get("imagePullPolicy") not in PULL_POLICIES:
        yield f"{where}: imagePullPolicy {c.get('imagePullPolicy')!r}"
    ports = c.get("ports", [])
    names = [p.get("name") for p in ports if "name" in p]
    for p in ports:
        if "name" in p and not PORT_NAME.match(str(p["name"])):
            yield f"{where}: port name {p['name']!r} is not an IANA service name"
        if not isinstance(p.get("containerPort"), int) or not 0 < p["containerPort"] < 65536:
            yield f"{where}: containerPort {p.get('containerPort')!r}"
        if p.get("protocol", "TCP") not in PROTOCOLS:
            yield f"{where}: protocol {p.get('protocol')!r}"
    if len(set(names)) != len(names):
        yield f"{where}: duplicate port names {names}"
    paths = [m.get("mountPath") for m in c.get("volumeMounts", [])]
    if len(set(paths)) != len(paths):
        yield f"{where}: duplicate mountPath in {paths}"
    for m in c.get("volumeMounts", []):
        if m.get("name") not in volumes:
            yield f"{where}: volumeMount {m.get('name')!r} at {m.get('mountPath')!r} names no volume of the pod"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        handler = c.get(probe, {}).get("httpGet") or c.get(probe, {}).get("tcpSocket") or {}
        port = handler.get("port")
        if isinstance(port, str) and port not in names:
            yield f"{where}: {probe} port {port!r} is not a port of the container"
        elif isinstance(port, int) and not 0 < port < 65536:
            yield f"{where}: {probe} port {port!r}"


def pod_problems(where: str, spec: Mapping[str, Any], claims: tuple[str, ...] = ()) -> Iterator[str]:
    """What the API server refuses in a pod spec (``claims``: a StatefulSet's claim template names)."""
    volume_names = [v.get("name") for v in spec.get("volumes", [])]
    for name in volume_names:
        if not _dns_label(name):
            yield f"{where}: volume name {name!r} is not a DNS-1123 label"
    for volume in spec.get("volumes", []):
        sources = sorted(set(volume) - {"name"})
        if len(sources) != 1 or sources[0] not in VOLUME_SOURCES:
            yield f"{where}: volume {volume.get('name')!r} wants exactly one volume type, has {sources}"
    if len(set(volume_names)) != len(volume_names):
        yield f"{where}: duplicate volume names {volume_names}"
    containers = [*spec.get("initContainers", []), *spec.get("containers", [])]
    if not spec.get("containers"):
        yield f"{where}: no containers"
    names = [c.get("name") for c in containers]
    if len(set(names)) != len(names):
        yield f"{where}: duplicate container names {names}"
    for c in containers:
        if not _dns_label(c.get("name")):
            yield f"{where}: container name {c.get('name')!r} is not a DNS-1123 label"
        yield from _container_problems(f"{where} container {c.get('name')}", c, {*volume_names, *claims})


def _template(manifest: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if manifest["kind"] == "CronJob":
        return manifest["spec"]["jobTemplate"]["spec"]["template"]
    if manifest["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return manifest["spec"]["template"]
    return None


def _service_problems(where: str, spec: Mapping[str, Any], pods: list[Mapping[str, Any]]) -> Iterator[str]:
    selector = spec.get("selector") or {}
    selected = [p for p in pods if selector and selector.items() <= p["metadata"].get("labels", {}).items()]
    for port in spec.get("ports", []):
        if "name" in port and not _dns_label(port["name"]):
            yield f"{where}: port name {port['name']!r} is not a DNS-1123 label"
        if port.get("protocol", "TCP") not in PROTOCOLS:
            yield f"{where}: protocol {port.get('protocol')!r}"
        target = port.get("targetPort", port.get("port"))
        if isinstance(target, str):
            if not PORT_NAME.match(target):
                yield f"{where}: targetPort {target!r} is not an IANA service name"
            for pod in selected:
                declared = {p.get("name") for c in pod["spec"]["containers"] for p in c.get("ports", [])}
                if target not in declared:
                    yield f"{where}: targetPort {target!r} is no port of the pods it selects {selector}"


def manifest_problems(manifests: list[Mapping[str, Any]]) -> list[str]:
    """Every rule above, over the pods and Services of a rendered stack."""
    out: list[str] = []
    pods = []
    for m in manifests:
        where = f"{m['kind']}/{m['metadata']['name']}"
        out += label_problems(where, m["metadata"].get("labels") or {})
        tpl = _template(m)
        if tpl is None:
            continue
        pods.append(tpl)
        out += label_problems(f"{where} template", tpl["metadata"].get("labels") or {})
        selector = (m["spec"].get("selector") or {}).get("matchLabels")
        if m["kind"] in ("Deployment", "StatefulSet") and not (selector and selector.items() <= tpl["metadata"]["labels"].items()):
            out.append(f"{where}: selector {selector} does not match template labels")
        claims = tuple(t["metadata"]["name"] for t in m["spec"].get("volumeClaimTemplates", []))
        out += pod_problems(where, tpl["spec"], claims)
    for m in manifests:
        if m["kind"] == "Service":
            out += _service_problems(f"Service/{m['metadata']['name']}", m["spec"], pods)
    return out
