"""PreviewIdentity: the read-only ServiceAccount ``gushen-preview`` that previews and the drift check use.

What a preview asks of the API server (pulumi-kubernetes, ``provider/pkg/provider/provider.go``):

- ``Diff`` compares the state with the new inputs on the client; it asks the server only whether a
  kind is namespaced (discovery, which every authenticated user may read: ClusterRole
  ``system:discovery``).
- ``Read`` (a refresh, ``--refresh``) GETs each object.
- ``Create``/``Update`` in a preview send the write with ``dryRun=All`` (``provider/pkg/await/await.go``:
  ``ssaUpdate``, ``csaUpdate``, ``Creation``). Kubernetes authorizes a dry run exactly like the
  write ("Authorization for dry-run and non-dry-run requests is identical", kubernetes/website
  ``content/en/docs/reference/using-api/api-concepts.md``, "Dry-run authorization"), so this
  identity gets 403 there; the provider then falls back to the inputs it was given
  (``Create``: "unable to compute Server-side dry-run and defaulting to client-side";
  ``Update``: ``req.GetPreview() && apierrors.IsForbidden(awaitErr)``). The preview still shows
  every change; it misses only what the server would add (defaults, admission errors).

So it may get, list and watch what the program manages, and nothing else: no verb that writes, and no
Secrets, whose values are exactly what a pull request must not read. A refresh of the program's own
Secrets therefore fails with 403: the drift check excludes them (docs/ci.md). Its token is minted by
an administrator (``kubectl create token``), never by the program, so it never enters the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from . import workload
from .workload import AppLabels

NAME = "gushen-preview"
READ = ["get", "list", "watch"]
#: What the program manages in its namespace (and what those objects own: pods, replica sets,
#: jobs, events), by API group. Never ``secrets``; tests/test_preview_identity.py checks every kind
#: a stack renders is here.
NAMESPACED: dict[str, tuple[str, ...]] = {
    "": ("configmaps", "services", "serviceaccounts", "persistentvolumeclaims", "pods", "endpoints", "events"),
    "apps": ("deployments", "statefulsets", "replicasets"),
    "batch": ("cronjobs", "jobs"),
    "policy": ("poddisruptionbudgets",),
    "autoscaling": ("horizontalpodautoscalers",),
    "networking.k8s.io": ("networkpolicies",),
    "rbac.authorization.k8s.io": ("roles", "rolebindings"),
    "traefik.io": ("ingressroutes", "middlewares", "tlsoptions"),
    "cert-manager.io": ("certificates",),
    "monitoring.coreos.com": ("prometheusrules",),
}
#: Cluster-wide kinds the program manages. ClusterIssuers hold no credential (the ACME account key
#: is a Secret in cert-manager's namespace, not readable here).
CLUSTER_WIDE: dict[str, tuple[str, ...]] = {"cert-manager.io": ("clusterissuers",)}


def _rules(groups: dict[str, tuple[str, ...]]) -> list[dict]:
    return [{"apiGroups": [group], "resources": list(resources), "verbs": READ} for group, resources in groups.items()]


@dataclass(frozen=True)
class PreviewIdentityArgs:
    namespace: pulumi.Input[str]
    """The app namespace: the ServiceAccount lives there and reads only there (and its own cluster-wide objects)."""
    cluster_suffix: str
    """Ends the cluster-wide names (``gushen-preview-<suffix>``), which every stack on the cluster shares:
    the namespace's name keeps them apart. A plain string: a name must be known when the program runs."""


class PreviewIdentity(pulumi.ComponentResource):
    """ServiceAccount ``gushen-preview``: read-only on what the program manages, never on Secrets."""

    service_account: pulumi.Output[str]

    def __init__(self, name: str, args: PreviewIdentityArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gushen:security:PreviewIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = AppLabels(NAME, "ci-identity")
        account = k8s.core.v1.ServiceAccount(
            NAME,
            metadata=workload.metadata(NAME, args.namespace, labels),
            # Nothing runs as it: no pod gets its token mounted.
            automount_service_account_token=False,
            opts=child,
        )
        subject = [{"kind": "ServiceAccount", "name": NAME, "namespace": args.namespace}]
        role = k8s.rbac.v1.Role(
            NAME, metadata=workload.metadata(NAME, args.namespace, labels), rules=_rules(NAMESPACED), opts=child,
        )
        k8s.rbac.v1.RoleBinding(
            NAME,
            metadata=workload.metadata(NAME, args.namespace, labels),
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role.metadata.name},
            subjects=subject,
            opts=child,
        )
        cluster_name = f"{NAME}-{args.cluster_suffix}"
        cluster_meta = {"name": cluster_name, "labels": labels.all}
        # The namespace itself and this identity's own cluster-wide objects, by name only.
        own = [
            {"apiGroups": [""], "resources": ["namespaces"], "resourceNames": [args.namespace], "verbs": ["get"]},
            {
                "apiGroups": ["rbac.authorization.k8s.io"],
                "resources": ["clusterroles", "clusterrolebindings"],
                "resourceNames": [cluster_name],
                "verbs": ["get"],
            },
        ]
        cluster_role = k8s.rbac.v1.ClusterRole(NAME, metadata=cluster_meta, rules=own + _rules(CLUSTER_WIDE), opts=child)
        k8s.rbac.v1.ClusterRoleBinding(
            NAME,
            metadata=cluster_meta,
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role.metadata.name},
            subjects=subject,
            opts=child,
        )
        self.service_account = account.metadata.apply(lambda m: m.name)
        self.register_outputs({"service_account": self.service_account})
