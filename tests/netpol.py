"""Kubernetes NetworkPolicy semantics (networking.k8s.io/v1), to compute who may connect to whom.

Written from the API reference, independently of the code that builds the policies:
- a pod is isolated for a direction iff some policy of its namespace selects it and lists that
  direction in ``policyTypes`` (absent: Ingress, plus Egress when the policy has egress rules);
- an isolated pod accepts (or opens) a connection iff some rule of such a policy matches the
  peer and the port; policies are additive, there is no deny rule;
- a connection needs egress allowed at the source AND ingress allowed at the destination;
- peers: ``podSelector`` alone means pods of the policy's own namespace, ``namespaceSelector``
  alone all pods of the matching namespaces, both together pods matching both; ``ipBlock``
  matches addresses in ``cidr`` and in none of ``except`` (applied to every peer's address,
  pods included: implementations differ there, so a test assuming the wider match is safe);
- an empty or absent ``from``/``to`` matches every peer, empty or absent ``ports`` every port;
  a port names a number, a range (``endPort``) or a container port name of the destination.
Peers outside the cluster (``namespace=None``) have no policies, so they are never isolated.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

NAMESPACE_NAME = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class Peer:
    name: str
    namespace: Optional[str]
    """``None`` for an address outside the cluster."""
    ip: str
    labels: Mapping[str, str] = field(default_factory=dict)
    ports: Mapping[str, int] = field(default_factory=dict)
    """Named container ports (what a named port in a policy resolves to)."""
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels of the pod's namespace (every namespace has ``kubernetes.io/metadata.name``)."""

    @property
    def ns_labels(self) -> dict[str, str]:
        return {**self.namespace_labels, NAMESPACE_NAME: self.namespace} if self.namespace else {}


def selects(selector: Optional[Mapping[str, Any]], labels: Mapping[str, str]) -> bool:
    """A LabelSelector: ``{}`` selects everything; every requirement must hold."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def policy_types(spec: Mapping[str, Any]) -> list[str]:
    if "policyTypes" in spec:
        return list(spec["policyTypes"])
    return ["Ingress", *(["Egress"] if spec.get("egress") else [])]


def _in_block(ip: str, block: Mapping[str, Any]) -> bool:
    address = ipaddress.ip_address(ip)
    net = ipaddress.ip_network(block["cidr"])
    if address.version != net.version or address not in net:
        return False
    return not any(address in ipaddress.ip_network(e) for e in block.get("except") or [])


def peer_matches(entry: Mapping[str, Any], policy_ns: str, peer: Peer) -> bool:
    if "ipBlock" in entry:
        return _in_block(peer.ip, entry["ipBlock"])
    if peer.namespace is None:
        return False  # selectors match pods only
    pods, namespaces = entry.get("podSelector"), entry.get("namespaceSelector")
    if namespaces is None:
        in_namespace = peer.namespace == policy_ns
    else:
        in_namespace = selects(namespaces, peer.ns_labels)
    return in_namespace and (pods is None or selects(pods, peer.labels))


def port_matches(entry: Mapping[str, Any], target: Peer, port: int, protocol: str) -> bool:
    if entry.get("protocol", "TCP") != protocol:
        return False
    wanted = entry.get("port")
    if wanted is None:
        return True
    if isinstance(wanted, str):
        return target.ports.get(wanted) == port
    return wanted <= port <= entry.get("endPort", wanted)


def _rule_allows(rule: Mapping[str, Any], peers_key: str, policy_ns: str, other: Peer, target: Peer,
                 port: int, protocol: str) -> bool:
    peers = rule.get(peers_key) or []
    ports = rule.get("ports") or []
    return (not peers or any(peer_matches(p, policy_ns, other) for p in peers)) and (
        not ports or any(port_matches(p, target, port, protocol) for p in ports)
    )


class Cluster:
    """NetworkPolicies (plain manifests) and the verdict for one connection."""

    def __init__(self, policies: Iterable[Mapping[str, Any]]):
        self.policies = [p for p in policies if p["kind"] == "NetworkPolicy"]

    def _selecting(self, pod: Peer, direction: str) -> list[Mapping[str, Any]]:
        if pod.namespace is None:
            return []
        return [
            p for p in self.policies
            if p["metadata"]["namespace"] == pod.namespace
            and selects(p["spec"].get("podSelector"), pod.labels)
            and direction in policy_types(p["spec"])
        ]

    def isolated(self, pod: Peer, direction: str) -> bool:
        return bool(self._selecting(pod, direction))

    def egress_allowed(self, source: Peer, target: Peer, port: int, protocol: str) -> bool:
        policies = self._selecting(source, "Egress")
        return not policies or any(
            _rule_allows(rule, "to", p["metadata"]["namespace"], target, target, port, protocol)
            for p in policies for rule in p["spec"].get("egress") or []
        )

    def ingress_allowed(self, source: Peer, target: Peer, port: int, protocol: str) -> bool:
        policies = self._selecting(target, "Ingress")
        return not policies or any(
            _rule_allows(rule, "from", p["metadata"]["namespace"], source, target, port, protocol)
            for p in policies for rule in p["spec"].get("ingress") or []
        )

    def allowed(self, source: Peer, target: Peer, port: int, protocol: str = "TCP") -> bool:
        return self.egress_allowed(source, target, port, protocol) and self.ingress_allowed(
            source, target, port, protocol
        )
