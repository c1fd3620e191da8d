"""AppNamespace: the namespace, its Secret ``ai-qtrd-secrets`` and ConfigMap ``ai-qtrd-config``.

Consumers get the Secret's and ConfigMap's *names* as plain strings (they are constants) and
wait for the objects through ``depends_on`` (``config_objects``): an input that came from one of
their outputs would let the engine replace the consumer whenever the object is replaced
(``calculateDependentReplacements``, tests/engine_model.py). What rolls the pods is a digest of
exactly the keys each consumer reads: ``config_checksum`` and ``secret_checksum``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
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


def secret_digest(key: str, values: Mapping[str, str]) -> str:
    """HMAC-SHA256 of ``values`` under ``key``: changes with any value, and without the key
    (kept only in the encrypted state) says nothing about them, not even for a short password."""
    text = "\0".join(f"{k}={values[k]}" for k in sorted(values))
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class AppNamespaceArgs:
    name: str
    """The namespace (``ai-qtrd``)."""
    secret_data: Mapping[str, pulumi.Input[str]]
    """Secret env values by key; stored in ``ai-qtrd-secrets``, read only through ``secretKeyRef``."""
    config_data: Mapping[str, str]
    """Non-secret env values by key; stored in ``ai-qtrd-config``."""
    digest_key: pulumi.Input[str] = ""
    """Key of the Secret digests (a generated password kept in the state); empty: no ``secret_checksum``."""
    protect: bool = False
    """Protect and retain the Namespace: deleting it would delete everything in it, volumes included. Even
    unprotected on purpose, `pulumi destroy` then leaves it (remove it with kubectl)."""


class AppNamespace(pulumi.ComponentResource):
    """Namespace ``ai-qtrd`` with Pod Security labels, the app Secret and the app ConfigMap."""

    namespace: pulumi.Output[str]
    secret_name: str
    config_map_name: str
    config_objects: list[pulumi.Resource]
    """The Secret and the ConfigMap: what pods reading them wait for (``depends_on``)."""
    config_checksum: str
    """Digest of all the ConfigMap data (``config_checksum_of`` digests only some keys)."""

    def __init__(self, name: str, args: AppNamespaceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gushen:core:AppNamespace", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns = k8s.core.v1.Namespace(
            args.name,
            metadata={"name": args.name, "labels": {**AppLabels(args.name, "namespace").all, **POD_SECURITY}},
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect),
        )
        # An output on purpose: if the Namespace is ever replaced, Kubernetes deletes what is in
        # it, and the engine must then replace those objects too.
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
        self._secret_data = dict(args.secret_data)
        self._config_data = dict(args.config_data)
        self._digest_key = args.digest_key
        self.secret_name = SECRET_NAME
        self.config_map_name = CONFIG_MAP_NAME
        self.config_objects = [secret, config_map]
        self.config_checksum = workload.checksum(self._config_data)
        self.register_outputs(
            {"namespace": self.namespace, "secret_name": self.secret_name, "config_map_name": self.config_map_name}
        )

    def config_checksum_of(self, keys: Sequence[str]) -> str:
        """Digest of the ConfigMap keys a consumer reads: only their change rolls its pods."""
        return workload.checksum({k: self._config_data[k] for k in keys})

    def secret_checksum(self, keys: Sequence[str]) -> pulumi.Input[str]:
        """HMAC of the Secret keys a consumer reads (``""`` without a digest key).

        The digest is computed from secret values, so Pulumi would mark it secret; it reveals
        nothing without the key, so it is unwrapped: the pod template stays a plain value in the
        state and a preview shows the annotation change (which pods roll) instead of ``[secret]``.
        """
        if not self._digest_key:
            return ""
        values = {k: self._secret_data[k] for k in keys}
        digest = pulumi.Output.all(self._digest_key, pulumi.Output.from_input(values)).apply(lambda kv: secret_digest(kv[0], kv[1]))
        return pulumi.Output.unsecret(digest)
