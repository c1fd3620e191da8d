"""NetworkPolicies: labels, CIDRs and the egress the platform needs."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Optional

from pydantic import AfterValidator, Field

from .values import Bool, DnsLabel, _Model

_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL_KEY = re.compile(rf"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_LABEL_NAME}$")
_LABEL_VALUE = re.compile(rf"^({_LABEL_NAME})?$")


def _labels(value: dict[str, str]) -> dict[str, str]:
    for key, label in value.items():
        if not _LABEL_KEY.match(key) or len(key.split("/")[0]) > 253:
            raise ValueError(f"invalid label key {key!r}")
        if not _LABEL_VALUE.match(label):
            raise ValueError(f"invalid value {label!r} of label {key!r}")
    return value


def _cidr(value: str) -> str:
    """Every CIDR key: an explicit prefix length, no host bits; returned in canonical form."""
    try:
        single = ipaddress.ip_address(value.split("/")[0])
    except ValueError:
        single = None
    if "/" not in value and single is not None:
        raise ValueError(f"no prefix length (one address is {single}/{single.max_prefixlen})")
    try:
        return str(ipaddress.ip_network(value))  # strict: host bits set are refused
    except ValueError as exc:
        example = f"{single}/{single.max_prefixlen}" if single is not None else "192.0.2.10/32"
        raise ValueError(f"invalid CIDR ({exc}; want e.g. {example})") from None


Labels = Annotated[dict[str, str], AfterValidator(_labels)]
Cidr = Annotated[str, AfterValidator(_cidr)]
#: Private, shared and link-local ranges: the pod and Service CIDRs (10.42/16, 10.43/16), the
#: nodes' Tailscale addresses (100.64/10, with the API server on 6443 and kubelets on 10250)
#: and the cloud metadata endpoint (169.254.169.254).
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")


class IpBlock(_Model):
    """A NetworkPolicy ``ipBlock``: ``cidr`` less the ``except`` ranges inside it."""

    cidr: Cidr
    except_: Annotated[list[Cidr], Field(alias="except")] = []

    def problems(self, key: str) -> list[str]:
        outer = ipaddress.ip_network(self.cidr)
        out = []
        for i, inner in enumerate(self.except_):
            net = ipaddress.ip_network(inner)
            if net.version != outer.version or not net.subnet_of(outer) or net == outer:  # type: ignore[arg-type]
                out.append(f"{key}.except.{i}: {inner!r} is not a strict subnet of cidr {self.cidr!r}")
        return out


class NetworkPostgres(_Model):
    """Where the external PostgreSQL is (its port is ``gushen:postgres.port``)."""

    cidr: Cidr
    """A NetworkPolicy cannot match a DNS name: the server's address, usually a /32."""


class Network(_Model):
    """NetworkPolicies: default deny in the namespace, then only the platform's edges (spec 16.2)."""

    enabled: Bool = False
    traefik_namespace: DnsLabel = "kube-system"
    traefik_pod_labels: Labels = {"app.kubernetes.io/name": "traefik"}
    dns_namespace: DnsLabel = "kube-system"
    dns_pod_labels: Labels = {"k8s-app": "kube-dns"}
    postgres: Optional[NetworkPostgres] = None
    """Required when enabled: the apps and the backup reach only this address on the database port."""
    https_egress: list[IpBlock] = [IpBlock(cidr="0.0.0.0/0", except_=list(PRIVATE_RANGES))]
    """Where the apps may open HTTPS connections (the Lurus/AI API): the internet, not the cluster."""

    def problems(self, key: str) -> list[str]:
        out = [p for i, block in enumerate(self.https_egress) for p in block.problems(f"{key}.httpsEgress.{i}")]
        if self.enabled and self.postgres is None:
            out.append(f"{key}.postgres.cidr: required when enabled is true (the database's address, e.g. 192.0.2.10/32)")
        if self.enabled and not self.https_egress:
            out.append(f"{key}.httpsEgress: empty, so the apps could not reach the AI API (got [])")
        return out
