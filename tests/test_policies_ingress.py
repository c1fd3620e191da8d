"""Table: ingressroute-tls and ingressroute-references (policies/ingress.py)."""

import pytest

from policies.base import UNKNOWN

from .policy_baseline import DELETE, Case, expected, lines, ok, reported

HTTPS, HTTP = "IngressRoute/gushen-web-https", "IngressRoute/gushen-web-http"
T, R = "ingressroute-tls", "ingressroute-references"
ACME = {"kind": "Rule", "match": "PathPrefix(`/.well-known/acme-challenge/`)", "priority": 1000,
        "services": [{"kind": "Service", "name": "ai-qtrd-web", "port": 3000}]}

CASES = [
    Case("https-without-tls", HTTPS, ("spec", "tls"), DELETE, T),
    Case("https-without-certificate", HTTPS, ("spec", "tls", "secretName"), DELETE, T),
    Case("http-without-redirect", HTTP, ("spec", "routes", 0, "middlewares"), DELETE, T),
    Case("all-entry-points-without-tls", HTTP, ("spec", "entryPoints"), DELETE, T),
    Case("https-also-on-web", HTTPS, ("spec", "entryPoints"), ["websecure", "web"], T),
    Case("middleware-not-traefik", "Middleware/redirect-https", ("apiVersion",), "example.com/v1", R, reported=HTTP),
    Case("unknown-service", HTTPS, ("spec", "routes", 0, "services", 0, "name"), "ai-qtrd-backend", R),
    Case("unknown-port-number", HTTPS, ("spec", "routes", 0, "services", 0, "port"), 9000, R),
    Case("unknown-port-name", HTTPS, ("spec", "routes", 1, "services", 0, "port"), "https", R),
    Case("no-port", HTTPS, ("spec", "routes", 0, "services", 0, "port"), DELETE, R),
    Case("service-in-other-namespace", HTTPS, ("spec", "routes", 0, "services", 0, "namespace"), "other", R),
    Case("middleware-missing", "Middleware/redirect-https", ("metadata", "name"), "redirect-to-https", R, reported=HTTP),
    Case("tls-secret-unknown", HTTPS, ("spec", "tls", "secretName"), "other-tls", R),
    Case("certificate-writes-elsewhere", "Certificate/gushen-lurus-cn-tls", ("spec", "secretName"), "other", R,
         reported=HTTPS),
    Case("tls-option-missing", HTTPS, ("spec", "tls", "options", "name"), "strict", R),
]
VARIANTS = [
    ok("acme-route-on-http", HTTP, ("spec", "routes"), [ACME]),
    ok("provider-middleware", HTTP, ("spec", "routes", 0, "middlewares"), [{"name": "ai-qtrd-redirect-https@kubernetescrd"}]),
    ok("legacy-api-group", HTTP, ("apiVersion",), "traefik.containo.us/v1alpha1"),
    ok("cert-resolver", HTTPS, ("spec", "tls"), {"certResolver": "letsencrypt"}),
    ok("tls-store", HTTPS, ("spec", "tls"), {"store": {"name": "default"}}),
    ok("route-without-entry-points-but-tls", HTTPS, ("spec", "entryPoints"), ["websecure", "websecure-alt"]),
]


@pytest.mark.parametrize("case", CASES + VARIANTS, ids=lambda c: c.id)
def test_policy_table(case):
    assert reported(case) == expected(case)


MW, OPT, CERT, API_SVC = "Middleware/redirect-https", "TLSOption/gushen-tls", "Certificate/gushen-lurus-cn-tls", "Service/ai-qtrd-api"
MW_REF, SVC_REF = ("spec", "routes", 0, "middlewares", 0), ("spec", "routes", 0, "services", 0)
TLS_OPTIONS = ("spec", "tls", "options")
NS = ("metadata", "namespace")
NO_CERTIFICATE = (f"mandatory {T} {HTTPS}: serves HTTPS without tls.secretName (or certResolver/store): "
                  "clients would get no valid certificate")
NO_MIDDLEWARE = f"mandatory {R} {HTTP}: routes[0] uses middleware 'redirect-https', not a Middleware of the stack"
NO_OPTION = f"mandatory {R} {HTTPS}: tls.options names 'gushen-tls', not a TLSOption of the stack"
NO_PORT = f"mandatory {R} {HTTPS}: routes[0] sends to Service 'ai-qtrd-api' without a port"
PLAIN = "serves plain HTTP without a redirect middleware"
ROUTE = {"kind": "Rule", "match": "Host(`gushen.lurus.cn`)", "services": [{"kind": "Service", "name": "ai-qtrd-web", "port": 3000}]}

# What the user reads (exact lines of one policy). A reference names an object in the route's own
# namespace unless it gives one; an object of that name in another namespace does not count.
MESSAGES = [
    ("no-certificate", [(HTTPS, ("spec", "tls"), DELETE)], None, T, [NO_CERTIFICATE]),
    ("no-redirect", [(HTTP, ("spec", "routes", 0, "middlewares"), DELETE)],
     {T: {"redirectMiddlewares": ["redirect-https", "to-https"]}}, T,
     [f"mandatory {T} {HTTP}: routes[0] ('Host(`gushen.lurus.cn`)') {PLAIN} (redirect-https, to-https)"]),
    ("acme-route-then-a-plain-one", [(HTTP, ("spec", "routes"), [ACME, ROUTE])], None, T,
     [f"mandatory {T} {HTTP}: routes[1] ('Host(`gushen.lurus.cn`)') {PLAIN} (redirect-https)"]),
    # Not Traefik's: another controller's CRD of the same kind is no route of ours.
    ("other-api-group", [(HTTPS, ("apiVersion",), "example.com/v1"), (HTTPS, ("spec", "tls"), DELETE)], None, T, []),
    ("other-api-group-then-a-traefik-route", [(HTTPS, ("apiVersion",), "example.com/v1"), (HTTP, (*MW_REF, "name"), "gone")],
     None, R, [f"mandatory {R} {HTTP}: routes[0] uses middleware 'gone', not a Middleware of the stack"]),
    ("tcp-route-needs-a-middleware-tcp", [(HTTP, ("kind",), "IngressRouteTCP")], None, R,
     [f"mandatory {R} IngressRouteTCP/gushen-web-http: routes[0] uses middleware 'redirect-https', not a MiddlewareTCP of the stack"]),
    ("middleware-named-in-other-namespace", [(HTTP, (*MW_REF, "namespace"), "other")], None, R, [NO_MIDDLEWARE]),
    ("middleware-in-other-namespace", [(MW, NS, "other")], None, R, [NO_MIDDLEWARE]),
    ("middleware-named-where-it-is", [(MW, NS, "other"), (HTTP, (*MW_REF, "namespace"), "other")], None, R, []),
    ("provider-tls-option", [(HTTPS, (*TLS_OPTIONS, "name"), "default@file")], None, R, []),
    ("tls-option-named-in-other-namespace", [(HTTPS, (*TLS_OPTIONS, "namespace"), "other")], None, R, [NO_OPTION]),
    ("tls-option-in-other-namespace", [(OPT, NS, "other")], None, R, [NO_OPTION]),
    ("tls-option-named-where-it-is", [(OPT, NS, "other"), (HTTPS, (*TLS_OPTIONS, "namespace"), "other")], None, R, []),
    ("certificate-in-other-namespace", [(CERT, NS, "other")], None, R, [
        f"mandatory {R} {HTTPS}: tls.secretName 'gushen-lurus-cn-tls' is neither a Secret nor a Certificate's secret in the stack",
    ]),
    ("service-in-other-namespace", [(API_SVC, NS, "other")], None, R,
     [f"mandatory {R} {HTTPS}: routes[0] sends to Service 'ai-qtrd-api', which the stack does not define"]),
    ("service-named-where-it-is", [(API_SVC, NS, "other"), (HTTPS, (*SVC_REF, "namespace"), "other")], None, R, []),
    ("port-unknown-in-preview", [(HTTPS, (*SVC_REF, "port"), UNKNOWN)], None, R, []),
    ("port-absent", [(HTTPS, (*SVC_REF, "port"), DELETE)], None, R, [NO_PORT]),
    ("port-empty", [(HTTPS, (*SVC_REF, "port"), "")], None, R, [NO_PORT]),
    ("port-zero", [(HTTPS, (*SVC_REF, "port"), 0)], None, R, [NO_PORT]),
    ("port-not-on-service", [(HTTPS, (*SVC_REF, "port"), 9000)], None, R,
     [f"mandatory {R} {HTTPS}: routes[0] sends to port 9000 of Service 'ai-qtrd-api', which has no such port"]),
    # An ExternalName Service forwards to a host outside: any port number may be right.
    ("external-name-any-port", [(API_SVC, ("spec", "type"), "ExternalName"), (HTTPS, (*SVC_REF, "port"), 9000)], None, R, []),
]


@pytest.mark.parametrize("changes, config, policy, want", [m[1:] for m in MESSAGES], ids=[m[0] for m in MESSAGES])
def test_messages(changes, config, policy, want):
    assert [line for line in lines(changes, config) if f" {policy} " in line] == want
