"""TraefikRouting: the spec's 4.2 routing table as IngressRoutes, its Middlewares and CRD validity."""

from __future__ import annotations

import json

import pytest

from gushen_infra import config, render

from .conftest import ROOT, run_stack
from .crd_schema import schema_errors

COMPONENT = "gushen:routing:TraefikRouting"
ROUTING_KINDS = ("IngressRoute", "Middleware", "TLSOption")
H = "Host(`gushen.lurus.cn`)"
WEB, API = ("ai-qtrd-web", 3000), ("ai-qtrd-api", 8000)
#: Spec 4.2: (match, priority, service); plus /openapi.json for the Swagger UI.
SPEC_TABLE = [
    (f"{H} && PathPrefix(`/docs`)", 50, API),
    (f"{H} && Path(`/openapi.json`)", 50, API),
    (f"{H} && PathPrefix(`/ws`)", 40, API),
    (f"{H} && PathPrefix(`/api/strategy/generate`)", 30, WEB),
    (f"{H} && PathPrefix(`/api/auth`)", 30, WEB),
    (f"{H} && PathPrefix(`/api/advisor`)", 30, WEB),
    (f"{H} && PathPrefix(`/api/stocks`)", 30, WEB),
    # /api/strategy (minus generate), /api/backtest and /api/data: subsets of this one (see routing.py)
    (f"{H} && PathPrefix(`/api`) && !PathPrefix(`/api/strategy/generate`)", 20, API),
    (f"{H} && !PathPrefix(`/api`) && !PathPrefix(`/ws`) && !PathPrefix(`/docs`)", 10, WEB),
]
#: The shortest rule cert-manager's HTTP-01 solver Ingress can have (its path adds a token).
ACME_SOLVER_RULE = f"{H} && PathPrefix(`/.well-known/acme-challenge/`)"


def routing_with(**changes) -> dict:
    values, _ = render.stack_config("prod", ROOT)
    return {**json.loads(values["gushen:routing"]), **changes}


def middleware_names(route: dict) -> list[str]:
    return [m["name"] for m in route.get("middlewares", [])]


def test_https_route_implements_the_spec_table(prod):
    https = prod.get("IngressRoute", "gushen-web-https")
    assert https["metadata"]["namespace"] == "ai-qtrd"
    assert https["spec"]["entryPoints"] == ["websecure"]
    got = [
        (r["match"], r["priority"], tuple((s["name"], s["port"]) for s in r["services"]))
        for r in https["spec"]["routes"]
    ]
    assert got == [(match, priority, (service,)) for match, priority, service in SPEC_TABLE]
    assert all(r["kind"] == "Rule" and r["services"][0]["kind"] == "Service" for r in https["spec"]["routes"])


def test_https_route_terminates_tls_with_the_certificate_secret_and_tls12(prod):
    tls = prod.get("IngressRoute", "gushen-web-https")["spec"]["tls"]
    assert tls == {"secretName": "gushen-lurus-cn-tls", "options": {"name": "gushen-tls"}}
    assert prod.get("TLSOption", "gushen-tls")["spec"] == {"minVersion": "VersionTLS12"}
    assert tls["secretName"] == prod.get("Certificate", "gushen-lurus-cn-tls")["spec"]["secretName"]


def test_http_route_redirects_everything_but_ranks_below_the_acme_solver(prod):
    http = prod.get("IngressRoute", "gushen-web-http")
    (route,) = http["spec"]["routes"]
    assert http["spec"]["entryPoints"] == ["web"] and "tls" not in http["spec"]
    assert route["match"] == H
    assert middleware_names(route) == ["redirect-https"]
    assert route["priority"] < len(ACME_SOLVER_RULE)
    assert route["services"] == [{"kind": "TraefikService", "name": "noop@internal"}]
    redirect = prod.get("Middleware", "redirect-https")["spec"]
    assert redirect == {"redirectScheme": {"scheme": "https", "permanent": True}}


def test_security_headers_on_every_https_route_and_rate_limit_on_api_routes_only(prod):
    routes = prod.get("IngressRoute", "gushen-web-https")["spec"]["routes"]
    for route in routes:
        is_api = route["match"].split(" && ")[1].startswith("PathPrefix(`/api")
        expected = ["security-headers", "api-rate-limit"] if is_api else ["security-headers"]
        assert middleware_names(route) == expected, route["match"]
    wanted = routing_with()
    headers = prod.get("Middleware", "security-headers")["spec"]["headers"]
    assert headers["stsSeconds"] == wanted["securityHeaders"]["stsSeconds"] >= 31536000  # a year, HSTS-preload grade
    assert headers["stsIncludeSubdomains"] is wanted["securityHeaders"]["stsIncludeSubdomains"]
    assert headers["contentTypeNosniff"] is True
    limit = {k: wanted["rateLimit"][k] for k in ("average", "period", "burst")}
    assert prod.get("Middleware", "api-rate-limit")["spec"] == {"rateLimit": limit}


def test_middleware_switches_off_remove_the_objects_and_references():
    stack = run_stack(overrides={"routing": routing_with(
        securityHeaders={"enabled": False}, rateLimit={"enabled": False},
    )})
    assert [m["metadata"]["name"] for m in stack.all("Middleware")] == ["redirect-https"]
    routes = stack.get("IngressRoute", "gushen-web-https")["spec"]["routes"]
    assert all("middlewares" not in r for r in routes)
    (component,) = stack.of_type("gushen:routing:TraefikRouting")
    assert component.outputs["middlewares"] == ["redirect-https"]


def test_the_component_outputs_name_its_routes_and_middlewares(prod):
    (component,) = prod.of_type("gushen:routing:TraefikRouting")
    assert component.outputs == {"https_route": "gushen-web-https", "http_route": "gushen-web-http",
                                 "middlewares": ["redirect-https", "security-headers", "api-rate-limit"]}
    assert {m["metadata"]["name"] for m in prod.all("IngressRoute")} == {"gushen-web-https", "gushen-web-http"}
    assert {m["metadata"]["name"] for m in prod.all("Middleware")} == set(component.outputs["middlewares"])


def test_every_reference_resolves_in_the_namespace(prod):
    names = {
        (m["kind"], m["metadata"]["namespace"], m["metadata"]["name"])
        for m in prod.manifests if "namespace" in m["metadata"]
    }
    for ingress in prod.all("IngressRoute"):
        ns = ingress["metadata"]["namespace"]
        for route in ingress["spec"]["routes"]:
            for mw in route.get("middlewares", []):
                assert ("Middleware", ns, mw["name"]) in names
            for svc in route["services"]:
                if svc["kind"] == "Service":
                    assert ("Service", ns, svc["name"]) in names
                    ports = [p["port"] for p in prod.get("Service", svc["name"])["spec"]["ports"]]
                    assert svc["port"] in ports
        if "options" in ingress["spec"].get("tls", {}):
            assert ("TLSOption", ns, ingress["spec"]["tls"]["options"]["name"]) in names


def test_routes_take_services_from_the_tier_components():
    values, _ = render.stack_config("prod", ROOT)
    web = {**json.loads(values["gushen:web"]), "port": 3100}
    stack = run_stack(overrides={"web": web, "domain": "test.lurus.cn"})
    routes = stack.get("IngressRoute", "gushen-web-https")["spec"]["routes"]
    assert {(s["name"], s["port"]) for r in routes for s in r["services"]} == {("ai-qtrd-web", 3100), API}
    assert all(r["match"].startswith("Host(`test.lurus.cn`)") for r in routes)
    assert stack.get("IngressRoute", "gushen-web-http")["spec"]["routes"][0]["match"] == "Host(`test.lurus.cn`)"


def test_objects_are_labelled_children_of_the_component_on_the_stack_provider(prod):
    (component,) = prod.of_type(COMPONENT)
    children = [r for r in prod.resources if r.parent == component.urn]
    assert sorted(r.name for r in children) == sorted(
        ["gushen-web-https", "gushen-web-http", "redirect-https", "security-headers", "api-rate-limit", "gushen-tls"]
    )
    assert all(r.provider and "pulumi:providers:kubernetes::k3s::" in r.provider for r in children)
    for doc in (m for m in prod.manifests if m["kind"] in ROUTING_KINDS):
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == doc["metadata"]["name"]
        assert labels["app.kubernetes.io/component"] == "routing"
        assert labels["app.kubernetes.io/part-of"] == "gushen"


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"apiGroup": "traefik.io/v1"}, "gushen:routing.apiGroup: Input should be 'traefik.io/v1alpha1' or"),
        ({"rateLimit": {"period": "1 second"}}, "gushen:routing.rateLimit.period: String should match"),
        ({"rateLimit": {"average": 0}}, "gushen:routing.rateLimit.average: Input should be greater than or equal to 1"),
        ({"minTlsVersion": "VersionTLS10"}, "gushen:routing.minTlsVersion: Input should be"),
        ({"redirect": True}, "gushen:routing.redirect: unknown key"),
    ],
)
def test_bad_routing_config_is_refused_with_the_key(changes, expected):
    with pytest.raises(config.ConfigError) as info:
        run_stack(overrides={"routing": routing_with(**changes)})
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


def test_prod_routing_objects_validate_against_traefik_v3_and_v2_11_schemas(prod):
    docs = [m for m in prod.manifests if m["kind"] in ROUTING_KINDS]
    assert {d["apiVersion"] for d in docs} == {"traefik.io/v1alpha1"} and len(docs) == 6
    assert [e for d in docs for e in schema_errors(d)] == []
    # Clusters still on Traefik 2.10/2.11 serve traefik.io too, with their own schema.
    assert [e for d in docs for e in schema_errors(d, "traefik-v2.11.53")] == []


def test_legacy_api_group_option_validates_against_containo_us_schemas():
    stack = run_stack(overrides={"routing": routing_with(apiGroup="traefik.containo.us/v1alpha1")})
    docs = [m for m in stack.manifests if m["kind"] in ROUTING_KINDS]
    assert {d["apiVersion"] for d in docs} == {"traefik.containo.us/v1alpha1"} and len(docs) == 6
    assert [e for d in docs for e in schema_errors(d)] == []


def test_crd_schema_check_is_strict(prod):
    route = json.loads(json.dumps(prod.get("IngressRoute", "gushen-web-https")))
    route["spec"]["routes"][0]["rule"] = route["spec"]["routes"][0].pop("match")
    errors = schema_errors(route)
    assert any("match" in e for e in errors) and any("rule" in e for e in errors)
