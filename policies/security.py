"""Pod Security (spec 16.3): the 'restricted' container context, and no access to the host."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .base import Obj, Rule, get, is_unknown, items, mapping, show
from .workloads import KINDS, containers, pod_spec

SECCOMP_ALLOWED = ("RuntimeDefault", "Localhost")


def _effective(container: Mapping[str, Any], pod: Mapping[str, Any], key: str) -> Any:
    """A securityContext field as the kubelet resolves it: the container's, else the pod's."""
    value = get(container, "securityContext", key)
    return get(pod, "securityContext", key) if value is None else value


def check_restricted_security_context(obj: Obj, cfg: Mapping[str, Any]) -> Iterator[str]:
    """Containers run as non-root, without privilege escalation, with ALL capabilities dropped and seccomp RuntimeDefault."""
    pod = pod_spec(obj) or {}
    allowed_caps = set(cfg["allowedCapabilities"])
    for c in containers(pod):
        body = c.body
        non_root = _effective(body, pod, "runAsNonRoot")
        if non_root is not True and not is_unknown(non_root):
            yield f"{c.label} does not set runAsNonRoot: true (container or pod securityContext)"
        if _effective(body, pod, "runAsUser") == 0:
            yield f"{c.label} runs as user 0 (root)"
        escalation = get(body, "securityContext", "allowPrivilegeEscalation")
        if escalation is not False and not is_unknown(escalation):
            yield f"{c.label} must set allowPrivilegeEscalation: false"
        caps = mapping(get(body, "securityContext", "capabilities"))
        drop = get(body, "securityContext", "capabilities", "drop")
        # An unknown list, or an unknown entry of it, may be the ALL the rule asks for.
        if "ALL" not in items(drop) and not is_unknown(drop) and not any(map(is_unknown, items(drop))):
            yield f"{c.label} must drop ALL capabilities"
        added = [cap for cap in items(caps.get("add")) if cap not in allowed_caps and not is_unknown(cap)]
        if added:
            yield f"{c.label} adds capabilities {', '.join(map(str, added))}"
        seccomp = get(_effective(body, pod, "seccompProfile"), "type")
        if seccomp not in SECCOMP_ALLOWED and not is_unknown(seccomp):
            yield f"{c.label} seccompProfile type is {show(seccomp)}, must be RuntimeDefault (or Localhost)"


def check_no_host_access(obj: Obj, cfg: Mapping[str, Any]) -> Iterator[str]:
    """No privileged containers, hostPath volumes, host ports or host network/PID/IPC namespaces."""
    pod = pod_spec(obj) or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field) is True:
            yield f"pod sets {field}: true"
    for volume in items(pod.get("volumes")):
        # An unknown volume may be any kind; a known one with an unknown hostPath is a hostPath.
        if not is_unknown(volume) and get(volume, "hostPath") is not None:
            yield f"volume {show(get(volume, 'name'))} is a hostPath"
    for c in containers(pod):
        if get(c.body, "securityContext", "privileged") is True:
            yield f"{c.label} is privileged"
        for port in items(get(c.body, "ports")):
            if get(port, "hostPort"):
                yield f"{c.label} binds hostPort {get(port, 'hostPort')}"


def check_read_only_root_filesystem(obj: Obj, cfg: Mapping[str, Any]) -> Iterator[str]:
    """Containers mount their root filesystem read-only (emptyDir volumes where the app writes)."""
    for c in containers(pod_spec(obj)):
        value = get(c.body, "securityContext", "readOnlyRootFilesystem")
        if value is not True and not is_unknown(value):
            yield f"{c.label} does not set readOnlyRootFilesystem: true"


RULES = [
    Rule(
        "restricted-security-context", check_restricted_security_context,
        keys=("allowedCapabilities",), kinds=KINDS,
    ),
    Rule("no-host-access", check_no_host_access, kinds=KINDS),
    Rule("read-only-root-filesystem", check_read_only_root_filesystem, enforcement="advisory", kinds=KINDS),
]
