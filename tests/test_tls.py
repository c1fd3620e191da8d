"""TlsCertificate: Let's Encrypt ClusterIssuers and Certificate gushen-lurus-cn-tls (spec 4.3)."""

from __future__ import annotations

import json

import pytest

from gushen_infra import config, render

from .conftest import ROOT, run_stack
from .crd_schema import schema_errors

COMPONENT = "gushen:tls:TlsCertificate"
RELEASE = "kubernetes:helm.sh/v3:Release"


def prod_section(key: str) -> dict:
    values, _ = render.stack_config("prod", ROOT)
    return json.loads(values[f"gushen:{key}"])


def tls_with(**changes) -> dict:
    return {**prod_section("tls"), **changes}


def test_prod_issuer_is_acme_v2_production_with_http01_through_traefik(prod):
    issuer = prod.get("ClusterIssuer", "letsencrypt-prod")
    acme = issuer["spec"]["acme"]
    assert "namespace" not in issuer["metadata"]
    assert acme["server"] == "https://acme-v02.api.letsencrypt.org/directory"
    assert acme["email"] == prod_section("tls")["acmeEmail"]
    assert acme["privateKeySecretRef"] == {"name": "letsencrypt-prod-account-key"}
    assert acme["solvers"] == [{"http01": {"ingress": {"ingressClassName": "traefik"}}}]
    assert issuer["metadata"]["labels"]["app.kubernetes.io/component"] == "tls"


def test_certificate_matches_spec_4_3(prod):
    cert = prod.get("Certificate", "gushen-lurus-cn-tls")
    assert cert["metadata"]["namespace"] == "ai-qtrd"
    assert cert["spec"] == {
        "secretName": "gushen-lurus-cn-tls",
        "dnsNames": ["gushen.lurus.cn"],
        "duration": "2160h",  # 90 days
        "renewBefore": "720h",  # renewed 30 days before expiry
        "privateKey": {"rotationPolicy": "Always"},
        "issuerRef": {"name": "letsencrypt-prod", "kind": "ClusterIssuer", "group": "cert-manager.io"},
    }
    assert cert["metadata"]["labels"]["app.kubernetes.io/name"] == "gushen-lurus-cn-tls"


def test_staging_issuer_follows_its_switch(prod):
    staging = prod.get("ClusterIssuer", "letsencrypt-staging")
    assert staging["spec"]["acme"]["server"] == "https://acme-staging-v02.api.letsencrypt.org/directory"
    assert staging["spec"]["acme"]["privateKeySecretRef"] == {"name": "letsencrypt-staging-account-key"}
    without = run_stack(overrides={"tls": tls_with(stagingIssuer=False)})
    assert [i["metadata"]["name"] for i in without.all("ClusterIssuer")] == ["letsencrypt-prod"]
    (component,) = without.of_type("gushen:tls:TlsCertificate")
    assert component.outputs["issuer_names"] == ["letsencrypt-prod"]


def test_the_component_outputs_name_the_certificates_secret_and_its_issuers(prod):
    (component,) = prod.of_type("gushen:tls:TlsCertificate")
    assert component.outputs == {"secret_name": "gushen-lurus-cn-tls", "issuer_names": ["letsencrypt-prod", "letsencrypt-staging"]}
    (certificate,) = prod.all("Certificate")
    assert certificate["spec"]["secretName"] == component.outputs["secret_name"]
    assert {i["metadata"]["name"] for i in prod.all("ClusterIssuer")} == set(component.outputs["issuer_names"])


def test_certificate_follows_issuer_and_domain_config():
    stack = run_stack(overrides={"tls": tls_with(issuer="letsencrypt-staging"), "domain": "test.lurus.cn"})
    cert = stack.get("Certificate", "gushen-lurus-cn-tls")
    assert cert["spec"]["issuerRef"]["name"] == "letsencrypt-staging"
    assert cert["spec"]["dnsNames"] == ["test.lurus.cn"]


def test_components_children_use_the_stack_provider(prod):
    (component,) = prod.of_type(COMPONENT)
    children = [r for r in prod.resources if r.parent == component.urn]
    assert sorted((r.inputs["kind"], r.name) for r in children) == [
        ("Certificate", "gushen-lurus-cn-tls"),
        ("ClusterIssuer", "letsencrypt-prod"),
        ("ClusterIssuer", "letsencrypt-staging"),
    ]
    for r in children:
        # Cluster-wide issuers may serve other apps: adopted if present (upsert), never deleted (retained).
        issuer = r.inputs["kind"] == "ClusterIssuer"
        assert f"pulumi:providers:kubernetes::{'k3s-retained' if issuer else 'k3s'}::" in r.provider, r.name
        assert r.options["retainOnDelete"] is issuer, r.name
    assert not prod.of_type(RELEASE), "prod leaves cert-manager to the cluster"


def test_cert_manager_install_option_pins_the_chart():
    stack = run_stack(overrides={"tls": tls_with(certManager={"install": True, "chartVersion": "v1.21.1"})})
    (release,) = stack.of_type(RELEASE)
    inputs = release.inputs
    assert (inputs["chart"], inputs["version"], inputs["namespace"]) == ("cert-manager", "v1.21.1", "cert-manager")
    assert inputs["repositoryOpts"] == {"repo": "https://charts.jetstack.io"}
    assert inputs["createNamespace"] is True
    assert inputs["values"]["crds"] == {"enabled": True, "keep": True}
    # A Helm release is not a manifest: the render leaves it out, the issuers stay in.
    assert all(m["kind"] != "Release" for m in stack.manifests)
    assert stack.get("ClusterIssuer", "letsencrypt-prod")


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"acmeEmail": "not-an-email"}, "gushen:tls.acmeEmail: invalid e-mail address (want name@example.org, "
         "domain in lower case) (got 'not-an-email')"),
        ({"acmeEmail": "ops@Lurus.cn"}, "gushen:tls.acmeEmail: invalid e-mail address (want name@example.org, "
         "domain in lower case) (got 'ops@Lurus.cn')"),
        ({"issuer": "letsencrypt"}, "gushen:tls.issuer: Input should be 'letsencrypt-prod' or 'letsencrypt-staging'"),
        ({"issuer": "letsencrypt-staging", "stagingIssuer": False}, "gushen:tls.issuer: 'letsencrypt-staging' needs"),
        ({"certManager": {"chartVersion": "latest"}}, "gushen:tls.certManager.chartVersion: String should match"),
        ({"acmeEmail": ...}, "gushen:tls.acmeEmail: required key is missing"),
    ],
)
def test_bad_tls_config_is_refused_with_the_key(changes, expected):
    section = {k: v for k, v in tls_with(**changes).items() if v is not ...}
    with pytest.raises(config.ConfigError) as info:
        run_stack(overrides={"tls": section})
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


def test_manifests_validate_against_cert_manager_crd_schemas(prod):
    docs = prod.all("ClusterIssuer") + prod.all("Certificate")
    assert len(docs) == 3
    assert [e for d in docs for e in schema_errors(d)] == []


def test_crd_schema_check_is_strict(prod):
    cert = json.loads(json.dumps(prod.get("Certificate", "gushen-lurus-cn-tls")))
    cert["spec"]["renewBeforeDays"] = 30
    assert any("renewBeforeDays" in e for e in schema_errors(cert))
