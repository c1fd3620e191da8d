"""TlsCertificate: Let's Encrypt ClusterIssuers and the domain's Certificate (spec 4.3).

cert-manager owns the ACME dance: the HTTP-01 solver publishes a temporary Ingress (class
``traefik``) for ``/.well-known/acme-challenge/<token>``, and the signed certificate lands in
Secret ``gushen-lurus-cn-tls``, which the HTTPS IngressRoute serves. cert-manager and its CRDs
are expected on the cluster; ``cert_manager.install`` installs them from the pinned Helm chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from . import config
from .workload import AppLabels

API_VERSION = "cert-manager.io/v1"
SECRET_NAME = "gushen-lurus-cn-tls"
#: ACME v2 directories; staging has generous rate limits and untrusted certificates.
ACME_SERVERS = {
    "letsencrypt-prod": "https://acme-v02.api.letsencrypt.org/directory",
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}
#: The ingress class of the Traefik that K3s bundles; the solver's Ingress must reach it.
INGRESS_CLASS = "traefik"
#: Spec 4.3: valid 90 days, renewed 30 days before expiry.
DURATION = "2160h"
RENEW_BEFORE = "720h"
CHART = "cert-manager"
CHART_REPO = "https://charts.jetstack.io"


@dataclass(frozen=True)
class TlsCertificateArgs:
    namespace: pulumi.Input[str]
    """Namespace of the Certificate and its Secret (the IngressRoute's namespace)."""
    domain: str
    """The DNS name the certificate covers (``gushen.lurus.cn``)."""
    settings: config.Tls
    """ACME e-mail, issuer choice, staging switch and the optional cert-manager install."""
    issuer_provider: Optional[pulumi.ProviderResource] = None
    """Provider of the ClusterIssuers: one that upserts adopts issuers already on the cluster (none: the
    component's). They are cluster-wide and may serve other apps: this stack never deletes them."""


def cluster_issuer_spec(server: str, email: str, account_key_secret: str) -> dict:
    return {
        "acme": {
            "server": server,
            "email": email,
            "privateKeySecretRef": {"name": account_key_secret},
            "solvers": [{"http01": {"ingress": {"ingressClassName": INGRESS_CLASS}}}],
        }
    }


def certificate_spec(domain: str, secret_name: str, issuer: pulumi.Input[str]) -> dict:
    return {
        "secretName": secret_name,
        "dnsNames": [domain],
        "duration": DURATION,
        "renewBefore": RENEW_BEFORE,
        # A fresh key at every renewal: a leaked key stops being useful after at most 90 days.
        "privateKey": {"rotationPolicy": "Always"},
        "issuerRef": {"name": issuer, "kind": "ClusterIssuer", "group": "cert-manager.io"},
    }


class TlsCertificate(pulumi.ComponentResource):
    """ClusterIssuer ``letsencrypt-prod`` (and optionally ``-staging``) and Certificate ``gushen-lurus-cn-tls``."""

    secret_name: str
    """The Secret cert-manager writes the certificate to (for the IngressRoute's ``tls.secretName``)."""
    issuer_names: pulumi.Output[list]
    """The ClusterIssuers created here."""

    def __init__(self, name: str, args: TlsCertificateArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gushen:tls:TlsCertificate", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)
        if settings.cert_manager.install:
            child = pulumi.ResourceOptions(parent=self, depends_on=[self._install_cert_manager(settings.cert_manager)])

        wanted = ["letsencrypt-prod"] + (["letsencrypt-staging"] if settings.staging_issuer else [])
        issuers = {}
        for issuer in wanted:
            issuers[issuer] = k8s.apiextensions.CustomResource(
                issuer,
                api_version=API_VERSION,
                kind="ClusterIssuer",
                metadata={"name": issuer, "labels": AppLabels(issuer, "tls").all},
                spec=cluster_issuer_spec(ACME_SERVERS[issuer], settings.acme_email, f"{issuer}-account-key"),
                opts=pulumi.ResourceOptions.merge(
                    child, pulumi.ResourceOptions(provider=args.issuer_provider, retain_on_delete=True)
                ),
            )
        # A name, not an output: the Certificate waits for its issuer but is never replaced with it.
        issuer_name = settings.issuer
        k8s.apiextensions.CustomResource(
            SECRET_NAME,
            api_version=API_VERSION,
            kind="Certificate",
            metadata={"name": SECRET_NAME, "namespace": args.namespace, "labels": AppLabels(SECRET_NAME, "tls").all},
            spec=certificate_spec(args.domain, SECRET_NAME, issuer_name),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[issuers[settings.issuer]])),
        )
        self.secret_name = SECRET_NAME
        self.issuer_names = pulumi.Output.all(*(i.metadata.apply(lambda m: m["name"]) for i in issuers.values()))
        self.register_outputs({"secret_name": self.secret_name, "issuer_names": self.issuer_names})

    def _install_cert_manager(self, install: config.CertManagerInstall) -> k8s.helm.v3.Release:
        # Helm installs the CRDs with the chart (crds.enabled) and keeps them on uninstall, so
        # removing the release never deletes every Certificate in the cluster.
        return k8s.helm.v3.Release(
            CHART,
            name=CHART,
            chart=CHART,
            version=install.chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPO),
            namespace=install.namespace,
            create_namespace=True,
            values={"crds": {"enabled": True, "keep": True}},
            opts=pulumi.ResourceOptions(parent=self),
        )
