"""Traefik routes and middlewares, and the TLS certificate of the domain."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from .values import Bool, DnsLabel, _Model

_DURATION = r"^[1-9][0-9]*(ms|s|m|h)$"


class SecurityHeaders(_Model):
    """Headers Middleware on every HTTPS route (HSTS and friends)."""

    enabled: Bool = True
    sts_seconds: Annotated[int, Field(ge=0)] = 31536000
    sts_include_subdomains: Bool = True


class RateLimit(_Model):
    """RateLimit Middleware on the ``/api`` routes, per client address."""

    enabled: Bool = True
    average: Annotated[int, Field(ge=1)] = 100
    period: Annotated[str, Field(pattern=_DURATION)] = "1s"
    burst: Annotated[int, Field(ge=1)] = 200


class Routing(_Model):
    """Traefik IngressRoutes and Middlewares for the domain (spec 4.1-4.2)."""

    #: traefik.io: Traefik 2.10+ and the v3 that K3s bundles; traefik.containo.us: older Traefik 2.
    api_group: Literal["traefik.io/v1alpha1", "traefik.containo.us/v1alpha1"] = "traefik.io/v1alpha1"
    min_tls_version: Literal["VersionTLS12", "VersionTLS13"] = "VersionTLS12"
    security_headers: SecurityHeaders = SecurityHeaders()
    rate_limit: RateLimit = RateLimit()


def _email(value: str) -> str:
    if not re.match(r"^[^@\s]+@[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$", value):
        raise ValueError("invalid e-mail address (want name@example.org, domain in lower case)")
    return value


class CertManagerInstall(_Model):
    """Optional install of cert-manager from its Helm chart (off where K3s already has it)."""

    install: Bool = False
    chart_version: Annotated[str, Field(pattern=r"^v[0-9]+\.[0-9]+\.[0-9]+$")] = "v1.21.1"
    namespace: DnsLabel = "cert-manager"


class Tls(_Model):
    """Let's Encrypt issuers and the domain's certificate (spec 4.3)."""

    acme_email: Annotated[str, AfterValidator(_email)]
    issuer: Literal["letsencrypt-prod", "letsencrypt-staging"] = "letsencrypt-prod"
    staging_issuer: Bool = False
    cert_manager: CertManagerInstall = CertManagerInstall()

    def problems(self, key: str) -> list[str]:
        if self.issuer == "letsencrypt-staging" and not self.staging_issuer:
            return [f"{key}.issuer: 'letsencrypt-staging' needs stagingIssuer: true (got stagingIssuer: false)"]
        return []
