"""AppNamespace: the namespace, its Secret ``ai-qtrd-secrets`` and ConfigMap ``ai-qtrd-config``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from . import workload
from .workload import AppLabels

SECRET_NAME = "ai-qtrd-secrets"
CONFIG_MAP_NAME = "ai-qtrd-config"
#: Pod Security Standards (spec 16.3): enforce baseline, audit and warn on restricted.
POD_SECURITY = {
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}


@dataclass(frozen=True)
class AppNamespaceArgs:
    name: str
    """The namespace (``ai-qtrd``)."""
    secret_data: Mapping[str, pulumi.Input[str]]
    """Secret env values by key; stored in ``ai-qtrd-secrets``, read only through ``secretKeyRef``."""
    config_data: Mapping[str, str]
    """Non-secret env values by key; stored in ``ai-qtrd-config``."""


class AppNamespace(pulumi.ComponentResource):
    """Namespace ``ai-qtrd`` with Pod Security labels, the app Secret and the app ConfigMap."""

    namespace: pulumi.Output[str]
    secret_name: pulumi.Output[str]
    config_map_name: pulumi.Output[str]
    config_checksum: str
    """Digest of the ConfigMap data: a pod annotation with it rolls the pods on a change."""

    def __init__(self, name: str, args: AppNamespaceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gushen:core:AppNamespace", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns = k8s.core.v1.Namespace(
            args.name,
            metadata={"name": args.name, "labels": {**AppLabels(args.name, "namespace").all, **POD_SECURITY}},
            opts=child,
        )
        self.namespace = ns.metadata.apply(lambda m: m.name)
        secret = k8s.core.v1.Secret(
            SECRET_NAME,
            metadata=workload.metadata(SECRET_NAME, self.namespace, AppLabels(SECRET_NAME, "config")),
            type="Opaque",
            string_data=dict(args.secret_data),
            opts=child,
        )
        config_map = k8s.core.v1.ConfigMap(
            CONFIG_MAP_NAME,
            metadata=workload.metadata(CONFIG_MAP_NAME, self.namespace, AppLabels(CONFIG_MAP_NAME, "config")),
            data=dict(args.config_data),
            opts=child,
        )
        self.secret_name = secret.metadata.apply(lambda m: m.name)
        self.config_map_name = config_map.metadata.apply(lambda m: m.name)
        self.config_checksum = workload.checksum(dict(args.config_data))
        self.register_outputs(
            {"namespace": self.namespace, "secret_name": self.secret_name, "config_map_name": self.config_map_name}
        )
