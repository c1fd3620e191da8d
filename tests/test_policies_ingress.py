"""Table: ingressroute-tls and ingressroute-references (policies/ingress.py)."""

import pytest

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


@pytest.mark.parametrize("changes, want", [
    ([(HTTPS, ("spec", "tls"), DELETE)], [
        f"mandatory {T} {HTTPS}: serves HTTPS without tls.secretName (or certResolver/store): "
        "clients would get no valid certificate",
    ]),
    ([(HTTP, ("spec", "routes", 0, "middlewares"), DELETE)], [
        f"mandatory {T} {HTTP}: routes[0] ('Host(`gushen.lurus.cn`)') serves plain HTTP without a redirect middleware "
        "(redirect-https)",
    ]),
    # Not Traefik's: another controller's CRD of the same kind is no route of ours.
    ([(HTTPS, ("apiVersion",), "example.com/v1"), (HTTPS, ("spec", "tls"), DELETE)], []),
], ids=["no-certificate", "no-redirect", "other-api-group"])
def test_messages(changes, want):
    assert [line for line in lines(changes) if f" {T} " in line] == want
