"""Table: a workload's pod template, pod spec or containers unknown in preview (policies/workloads.py),
and any field of any object of the baseline (policies/stack.py: an object whose name is unknown may
be the one a reference names).

A value computed from another resource is unknown during ``pulumi preview``: no rule that reads
pod specs may report it (a pull request's preview must not fail a mandatory policy for it), and a
value that is known, beside it or in the next object, is still reported (``pulumi up`` gets
every finding).
"""

import pytest

from policies.base import UNKNOWN, Obj
from policies.catalog import RULES, evaluate

from .policy_baseline import DELETE, ctr, lines, manifests, objects, pod, prod_settings

WEB, API, REDIS = "Deployment/ai-qtrd-web", "Deployment/ai-qtrd-api", "StatefulSet/redis"
WORKLOADS = [
    WEB, API, REDIS, "DaemonSet/node-agent", "ReplicaSet/worker", "Job/db-migrate", "CronJob/redis-backup",
    "Pod/redis-tools",
]
SVC_WEB, SVC_API, SVC_REDIS = "Service/ai-qtrd-web", "Service/ai-qtrd-api", "Service/redis-headless"
HTTPS, HTTP = "IngressRoute/gushen-web-https", "IngressRoute/gushen-web-http"
SECRET, REDIS_CONFIG, CERT = "Secret/ai-qtrd-secrets", "ConfigMap/redis-config", "Certificate/gushen-lurus-cn-tls"
MIDDLEWARE, TLS_OPTION, NAMESPACE = "Middleware/redirect-https", "TLSOption/gushen-tls", "Namespace/ai-qtrd"
NAME = ("metadata", "name")
COMPONENT = "app.kubernetes.io/component"


def template(target):
    """Path of the pod template (``()`` for a bare Pod: the Pod is its own template)."""
    return pod(target)[:-1]


def pss(mode):
    return ("metadata", "labels", f"pod-security.kubernetes.io/{mode}")


def labels(target, *rest):
    return (*template(target), "metadata", "labels", *rest)


UNKNOWN_PARTS = {
    "pod-spec": pod,
    "template": template,
    "first-container": lambda t: ctr(t, 0),
    "containers": lambda t: pod(t, "containers"),
    "pod-labels": labels,
    "component-label": lambda t: labels(t, COMPONENT),
    "ports-of-first-container": lambda t: ctr(t, 0, "ports"),
    "first-port-name": lambda t: ctr(t, 0, "ports", 0, "name"),
}
#: Every workload kind with its spec, template or a container unknown; the Services' workloads (and
#: those over the default cap) with what service-endpoints and resource-caps read of them unknown.
ROWS = [
    *((t, part) for t in WORKLOADS for part in ("pod-spec", "template", "first-container") if t != "Pod/redis-tools"),
    ("Pod/redis-tools", "pod-spec"), ("Pod/redis-tools", "first-container"), ("Pod/redis-tools", "pod-labels"),
    *((t, part) for t in (WEB, API, REDIS)
      for part in ("containers", "pod-labels", "ports-of-first-container", "first-port-name")),
    (API, "component-label"), (REDIS, "component-label"),
]


@pytest.mark.parametrize("target, part", ROWS, ids=[f"{t.split('/')[1]}-{p}" for t, p in ROWS])
def test_an_unknown_part_of_a_workload_is_no_finding_of_any_rule(target, part):
    """Every rule runs on every row: those reading the pod spec, and the stack rules reading all pods."""
    assert lines([(target, UNKNOWN_PARTS[part](target), UNKNOWN)]) == []


def _fields(node, path=()):
    """Every path into ``node``: each mapping value and list entry, at every depth."""
    yield path
    entries = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in entries:
        yield from _fields(value, (*path, key))


def _with(node, path, value):
    """``node`` with the field at ``path`` set to ``value``; copies only along the path (the rest is shared)."""
    if not path:
        return value
    copy = list(node) if isinstance(node, list) else dict(node)
    copy[path[0]] = _with(node[path[0]], path[1:], value)
    return copy


def test_any_field_of_any_object_unknown_is_no_finding():
    """The rows above, for every field every object of the baseline sets: the pack may guess none of them.

    What ``lines`` gives, at a third of its cost (the sweep runs for every mutant of ``make mutate``):
    the resource rules read one object each, so they run on the changed object alone (the others
    are the clean baseline's), and the stack rules on the whole stack with it.
    """
    docs, settings = manifests(), prod_settings()
    baseline = objects(docs)
    assert evaluate(baseline, settings) == []
    stack_only = prod_settings({r.name: "disabled" for r in RULES if not r.stack})
    resource_only = prod_settings({r.name: "disabled" for r in RULES if r.stack})
    found = {}
    for i, doc in enumerate(docs):
        for path in _fields(doc):
            if path in ((), ("kind",), ("apiVersion",)):
                continue
            changed = Obj.from_manifest(_with(doc, path, UNKNOWN))
            reported = evaluate([changed], resource_only) + evaluate([*baseline[:i], changed, *baseline[i + 1:]], stack_only)
            if reported:
                found[(f"{doc['kind']}/{doc['metadata']['name']}", path)] = sorted(v.line for v in reported)
    assert found == {}


# Beside an unknown value, a known bad one is still reported, with the same line as without it.
KNOWN_BAD = [
    ("placement-beside-unknown-containers", [(WEB, pod(WEB, "containers"), UNKNOWN), (WEB, pod(WEB, "nodeSelector"), DELETE)],
     [f"mandatory node-placement {WEB}: web pods must set nodeSelector kubernetes.io/hostname=cloud-ubuntu-3-2c2g (got none)"]),
    ("token-beside-an-unknown-container", [(WEB, ctr(WEB, 0), UNKNOWN), (WEB, pod(WEB, "automountServiceAccountToken"), True)],
     [f"mandatory no-service-account-token {WEB}: automountServiceAccountToken is true, must be false"]),
    ("second-container-beside-an-unknown-first", [(REDIS, ctr(REDIS, 0), UNKNOWN), (REDIS, ctr(REDIS, 1, "image"), "redis:latest")],
     [f"mandatory image-tag-pinned {REDIS}: container 'sentinel' image 'redis:latest' is tagged 'latest' (pin a version)"]),
    ("cap-beside-an-unknown-container", [(REDIS, ctr(REDIS, 0), UNKNOWN), (REDIS, ctr(REDIS, 1, "resources", "limits", "memory"), "3Gi")],
     [f"mandatory resource-caps {REDIS}: container 'sentinel' limits memory to 3Gi, above 2Gi allowed for component 'redis'"]),
    ("template-without-a-spec", [(WEB, pod(WEB), DELETE)], [f"mandatory well-formed-pod-spec {WEB}: has no pod spec"]),
    # A workload's unknown pod labels may match only a selector its known labels do not contradict.
    ("selector-no-unknown-label-can-match", [
        (WEB, labels(WEB, "app.kubernetes.io/name"), UNKNOWN), (SVC_REDIS, ("spec", "selector", "app"), "redis-x")],
     [f"mandatory service-endpoints {SVC_REDIS}: selector app=redis-x matches no workload's pod labels"]),
    # One Service's pods unknown: another Service's missing port is still reported.
    ("port-of-another-service", [(WEB, ctr(WEB, 0), UNKNOWN), (REDIS, ctr(REDIS, 0, "ports", 0, "name"), "tcp-redis")],
     [f"mandatory service-endpoints {SVC_REDIS}: targetPort 'redis' of port 6379 is not a container port of {REDIS}"]),
    # An object whose name is unknown may be what a reference names, but only of its kind, in its
    # namespace, where no object of the name is known; and a missing port is missing whatever it is.
    ("route-without-a-port-beside-an-unnamed-service", [
        (SVC_WEB, NAME, UNKNOWN), (HTTPS, ("spec", "routes", 1, "services", 0, "port"), DELETE)],
     [f"mandatory ingressroute-references {HTTPS}: routes[1] sends to Service 'ai-qtrd-web' without a port"]),
    ("port-beside-a-service-with-unknown-ports", [
        (SVC_WEB, ("spec", "ports"), UNKNOWN), (HTTPS, ("spec", "routes", 0, "services", 0, "port"), 8001)],
     [f"mandatory ingressroute-references {HTTPS}: routes[0] sends to port 8001 of Service 'ai-qtrd-api', which has no such port"]),
    # A Service whose type is unknown may be an ExternalName one, which forwards any port number, not names.
    ("port-name-of-a-service-of-unknown-type", [
        (SVC_WEB, ("spec", "type"), UNKNOWN), (HTTPS, ("spec", "routes", 1, "services", 0, "port"), "https")],
     [f"mandatory ingressroute-references {HTTPS}: routes[1] sends to port 'https' of Service 'ai-qtrd-web', which has no such port"]),
    ("middleware-beside-an-unnamed-one-in-another-namespace", [
        (MIDDLEWARE, ("metadata", "namespace"), "other"), (MIDDLEWARE, NAME, UNKNOWN)],
     [f"mandatory ingressroute-references {HTTP}: routes[0] uses middleware 'redirect-https', not a Middleware of the stack"]),
    ("tls-option-beside-an-unnamed-middleware", [(MIDDLEWARE, NAME, UNKNOWN), (TLS_OPTION, NAME, "other-tls")],
     [f"mandatory ingressroute-references {HTTPS}: tls.options names 'gushen-tls', not a TLSOption of the stack"]),
    ("config-map-beside-an-unnamed-secret", [(SECRET, NAME, UNKNOWN), (REDIS_CONFIG, NAME, "redis-conf")],
     [f"mandatory config-references {REDIS}: volume 'config' refers to ConfigMap 'redis-config', which the stack does not define"]),
    # A Certificate whose secretName is unknown may be any Secret's: not the one a name finds.
    ("key-of-a-secret-beside-a-certificate-of-unknown-secret", [
        (CERT, ("spec", "secretName"), UNKNOWN), (WEB, ctr(WEB, 0, "env", 0, "valueFrom", "secretKeyRef", "key"), "NOPE")],
     [f"mandatory config-references {WEB}: container 'web' env REDIS_PASSWORD refers to key 'NOPE' of Secret 'ai-qtrd-secrets', which has no such key"]),
    # A Certificate in an unknown namespace still writes only its keys into the Secret it names.
    ("key-of-a-certificate-secret-in-an-unknown-namespace", [
        (CERT, ("metadata", "namespace"), UNKNOWN),
        (WEB, ctr(WEB, 0, "env", 0, "valueFrom", "secretKeyRef", "name"), "gushen-lurus-cn-tls")],
     [f"mandatory config-references {WEB}: container 'web' env REDIS_PASSWORD refers to key 'REDIS_PASSWORD' of Secret 'gushen-lurus-cn-tls', which has no such key"]),
    ("plain-http-route-beside-an-unknown-one", [(HTTPS, ("spec", "entryPoints"), ["web"]), (HTTPS, ("spec", "routes", 0), UNKNOWN)],
     [f"mandatory ingressroute-tls {HTTPS}: routes[1] ('Host(`gushen.lurus.cn`)') serves plain HTTP without a redirect middleware (redirect-https)"]),
    ("plain-http-entry-point-beside-an-unknown-one", [(HTTPS, ("spec", "entryPoints"), [UNKNOWN, "web"])],
     [f"mandatory ingressroute-tls {HTTPS}: routes[0] ('Host(`gushen.lurus.cn`) && PathPrefix(`/api`)') serves plain HTTP without a redirect middleware (redirect-https)",
      f"mandatory ingressroute-tls {HTTPS}: routes[1] ('Host(`gushen.lurus.cn`)') serves plain HTTP without a redirect middleware (redirect-https)"]),
    # A Service's selector may match a workload whose pod labels are unknown only in its own namespace.
    ("selector-beside-unknown-pod-labels-in-another-namespace", [
        (API, labels(API), UNKNOWN), (API, ("metadata", "namespace"), "other")],
     [f"mandatory service-endpoints {SVC_API}: selector app=ai-qtrd-api matches no workload's pod labels"]),
    ("pod-security-label-beside-an-unknown-one", [
        (NAMESPACE, pss("enforce"), UNKNOWN), (NAMESPACE, pss("audit"), "baseline")],
     [f"mandatory namespace-pod-security {NAMESPACE}: label pod-security.kubernetes.io/audit is 'baseline', weaker than restricted"]),
]


@pytest.mark.parametrize("changes, want", [r[1:] for r in KNOWN_BAD], ids=[r[0] for r in KNOWN_BAD])
def test_a_known_bad_value_beside_an_unknown_one_is_still_reported(changes, want):
    policy = want[0].split()[1]
    assert [line for line in lines(changes) if line.split()[1] == policy] == want


def test_a_workload_whose_component_is_unknown_is_not_placed_by_guess():
    """Where node-placement wants the pods (web node, API node, data node, anywhere named) depends on
    the component: unknown in preview, pods placed somewhere are no finding, even on another tier's
    node; pods placed nowhere are, as no tier accepts them."""
    unknown = (WEB, labels(WEB, COMPONENT), UNKNOWN)
    data_node = prod_settings()["node-placement"].values["nodes"]["data"]
    on_the_data_node = (WEB, (*pod(WEB), "nodeSelector", "kubernetes.io/hostname"), data_node)
    assert [line for line in lines([unknown, on_the_data_node]) if line.split()[1] == "node-placement"] == []
    assert [line for line in lines([on_the_data_node]) if line.split()[1] == "node-placement"]  # known: reported
    nowhere = (WEB, (*pod(WEB), "nodeSelector"), DELETE)
    assert [line for line in lines([unknown, nowhere]) if line.split()[1] == "node-placement"] == [
        f"mandatory node-placement {WEB}: pods have no placement (nodeSelector, nodeName or node affinity), "
        f"whatever their {COMPONENT} label turns out to be"]
    # A DaemonSet places itself, one pod per node: none of the baseline's has a placement.
    daemons = "DaemonSet/node-agent"
    assert [line for line in lines([(daemons, labels(daemons, COMPONENT), UNKNOWN)]) if line.split()[1] == "node-placement"] == []


def test_a_route_whose_match_is_unknown_may_be_the_acme_solvers():
    """cert-manager's HTTP-01 route answers on plain HTTP without a redirect: one whose match is unknown may be it."""
    changes = [(HTTP, ("spec", "routes", 0, "middlewares"), DELETE), (HTTP, ("spec", "routes", 0, "match"), UNKNOWN)]
    assert [line for line in lines(changes) if " ingressroute-tls " in line] == []
