"""TraefikRouting: the domain's IngressRoutes and Middlewares (spec 4.1-4.3, 14.2).

The HTTPS IngressRoute ``gushen-web-https`` carries the spec's 4.2 table: Traefik tries routes
by descending priority, so docs (50) beat WebSocket (40) beat the frontend's own API paths (30)
beat the backend's ``/api`` catch-all (20) beat the UI (10). The HTTP IngressRoute
``gushen-web-http`` only redirects to HTTPS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Optional

import pulumi
import pulumi_kubernetes as k8s

from . import config
from .workload import AppLabels, Json

HTTPS_ROUTE = "gushen-web-https"
HTTP_ROUTE = "gushen-web-http"
REDIRECT = "redirect-https"
SECURITY_HEADERS = "security-headers"
RATE_LIMIT = "api-rate-limit"
TLS_OPTION = "gushen-tls"
#: K3s' Traefik entry points for ports 80 and 443 (spec appendix B).
WEB, WEBSECURE = "web", "websecure"
#: Below any Ingress router: Traefik ranks an Ingress rule by its length, and cert-manager's
#: HTTP-01 solver Ingress (Host(...) && PathPrefix(`/.well-known/acme-challenge/<token>`))
#: is far longer than 1, so the challenge is answered over HTTP instead of being redirected.
REDIRECT_PRIORITY = 1
#: Traefik's built-in service that answers nothing; the redirect middleware replies first.
NOOP_SERVICE = {"name": "noop@internal", "kind": "TraefikService"}

Target = Literal["web", "api"]


@dataclass(frozen=True)
class Route:
    """One row of the spec's 4.2 table."""

    name: str
    """What the route is for (the spec's ``Purpose`` line, shortened)."""
    match: str
    """The Traefik rule, verbatim from the spec with the configured domain."""
    priority: int
    """Spec 4.2's priority: the higher number is tried first."""
    target: Target
    """``web`` (ai-qtrd-web) or ``api`` (ai-qtrd-api)."""
    api: bool = False
    """An ``/api`` route: gets the rate limit."""


def routes(domain: str) -> list[Route]:
    """The spec's 4.2 routing table for ``domain``, highest priority first."""
    host = f"Host(`{domain}`)"
    return [
        Route("docs", f"{host} && PathPrefix(`/docs`)", 50, "api"),
        # Swagger UI at /docs fetches FastAPI's schema from /openapi.json; without this route
        # the UI rule would hand it to Next.js and the docs page would stay empty.
        Route("openapi", f"{host} && Path(`/openapi.json`)", 50, "api"),
        Route("websocket", f"{host} && PathPrefix(`/ws`)", 40, "api"),
        Route("strategy-generate", f"{host} && PathPrefix(`/api/strategy/generate`)", 30, "web", api=True),
        Route("auth", f"{host} && PathPrefix(`/api/auth`)", 30, "web", api=True),
        Route("advisor", f"{host} && PathPrefix(`/api/advisor`)", 30, "web", api=True),
        Route("stocks", f"{host} && PathPrefix(`/api/stocks`)", 30, "web", api=True),
        # The spec's last backend rule. Its other three (/api/strategy minus generate, /api/backtest,
        # /api/data) are subsets of it with the same priority and target: as separate routes they
        # would tie with it, and Traefik breaks such ties arbitrarily, leaving routes that may
        # never serve a request. One route gives the same answers, deterministically.
        Route("api", f"{host} && PathPrefix(`/api`) && !PathPrefix(`/api/strategy/generate`)", 20, "api", api=True),
        Route("ui", f"{host} && !PathPrefix(`/api`) && !PathPrefix(`/ws`) && !PathPrefix(`/docs`)", 10, "web"),
    ]


@dataclass(frozen=True)
class ServiceRef:
    """A Kubernetes Service a route sends traffic to."""

    name: pulumi.Input[str]
    """The Service's name (a component output, e.g. ``FrontendService.service_name``)."""
    port: int
    """The Service port."""


@dataclass(frozen=True)
class TraefikRoutingArgs:
    namespace: pulumi.Input[str]
    """Namespace of the IngressRoutes, Middlewares and both Services."""
    domain: str
    """The public host name (``gushen.lurus.cn``)."""
    settings: config.Routing
    """API group, minimum TLS version and the middleware switches."""
    frontend: ServiceRef
    """ai-qtrd-web: UI and the frontend's own API paths."""
    backend: ServiceRef
    """ai-qtrd-api: the rest of ``/api``, ``/ws``, ``/docs`` and ``/openapi.json``."""
    tls_secret_name: pulumi.Input[str]
    """Secret with the domain's certificate (cert-manager writes it)."""


def security_headers_spec(settings: config.SecurityHeaders) -> Json:
    return {
        "headers": {
            "stsSeconds": settings.sts_seconds,
            "stsIncludeSubdomains": settings.sts_include_subdomains,
            "contentTypeNosniff": True,
            # SAMEORIGIN, not DENY: the app may frame its own pages (charts, previews).
            "customFrameOptionsValue": "SAMEORIGIN",
            "referrerPolicy": "strict-origin-when-cross-origin",
        }
    }


def rate_limit_spec(settings: config.RateLimit) -> Json:
    return {"rateLimit": {"average": settings.average, "period": settings.period, "burst": settings.burst}}


class TraefikRouting(pulumi.ComponentResource):
    """IngressRoutes ``gushen-web-https``/``gushen-web-http``, their Middlewares and TLSOption."""

    https_route: pulumi.Output[str]
    http_route: pulumi.Output[str]
    middlewares: pulumi.Output[list]
    """Names of the Middlewares created (redirect-https always; the others per config)."""

    def __init__(self, name: str, args: TraefikRoutingArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gushen:routing:TraefikRouting", name, None, opts)
        self._args = args
        s = args.settings

        redirect = self._custom("Middleware", REDIRECT, {"redirectScheme": {"scheme": "https", "permanent": True}})
        headers = limit = None
        if s.security_headers.enabled:
            headers = self._custom("Middleware", SECURITY_HEADERS, security_headers_spec(s.security_headers))
        if s.rate_limit.enabled:
            limit = self._custom("Middleware", RATE_LIMIT, rate_limit_spec(s.rate_limit))
        tls_option = self._custom("TLSOption", TLS_OPTION, {"minVersion": s.min_tls_version})

        services = {"web": args.frontend, "api": args.backend}
        https_routes = []
        for route in routes(args.domain):
            chain = [m for m in (headers, limit if route.api else None) if m is not None]
            https_routes.append(self._route(route.match, route.priority, [_service(services[route.target])], chain))
        https = self._custom("IngressRoute", HTTPS_ROUTE, {
            "entryPoints": [WEBSECURE],
            "routes": https_routes,
            "tls": {"secretName": args.tls_secret_name, "options": {"name": _name(tls_option)}},
        })
        http = self._custom("IngressRoute", HTTP_ROUTE, {
            "entryPoints": [WEB],
            "routes": [self._route(f"Host(`{args.domain}`)", REDIRECT_PRIORITY, [NOOP_SERVICE], [redirect])],
        })

        self.https_route = _name(https)
        self.http_route = _name(http)
        self.middlewares = pulumi.Output.all(*(_name(m) for m in (redirect, headers, limit) if m is not None))
        self.register_outputs(
            {"https_route": self.https_route, "http_route": self.http_route, "middlewares": self.middlewares}
        )

    def _custom(self, kind: str, name: str, spec: Json) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            name,
            api_version=self._args.settings.api_group,
            kind=kind,
            metadata={"name": name, "namespace": self._args.namespace, "labels": AppLabels(name, "routing").all},
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self),
        )

    @staticmethod
    def _route(
        match: str, priority: int, services: Sequence[Json], middlewares: Sequence[k8s.apiextensions.CustomResource]
    ) -> Json:
        out: Json = {"kind": "Rule", "match": match, "priority": priority, "services": list(services)}
        if middlewares:
            # Referencing the objects' outputs makes Pulumi create each Middleware before the route.
            out["middlewares"] = [{"name": _name(m)} for m in middlewares]
        return out


def _name(resource: k8s.apiextensions.CustomResource) -> pulumi.Output[str]:
    return resource.metadata.apply(lambda m: m["name"])


def _service(ref: ServiceRef) -> Json:
    return {"kind": "Service", "name": ref.name, "port": ref.port}
