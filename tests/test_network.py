"""NetworkIsolation: the rendered NetworkPolicies allow exactly the platform's connections.

The allowed-connection matrix is computed from the rendered policies with Kubernetes' semantics
(tests/netpol.py) over every workload of the render and the peers around it, then compared edge
by edge, both ways, with the intended matrix written out below from the spec and the issue.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re

import kubernetes_validate
import pytest

from gushen_infra import config, render

from .conftest import ROOT, run_stack
from .netpol import Cluster, Peer
from .test_config import SECRET_KEYS, problems_of, prod_raw, with_change

NS = "ai-qtrd"
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
K3S_KUBERNETES = "1.32"
#: K3s's Traefik and CoreDNS pods (kube-system), as the K3s manifests label them.
TRAEFIK_LABELS = {"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": "traefik-kube-system"}
COREDNS_LABELS = {"k8s-app": "kube-dns"}
PROMETHEUS_LABELS = {"app.kubernetes.io/name": "prometheus"}
#: cert-manager's HTTP-01 solver pod as cert-manager labels it (pkg/issuer/acme/http/pod.go).
SOLVER_LABELS = {
    "acme.cert-manager.io/http01-solver": "true",
    "acme.cert-manager.io/http-domain": "1936817433",
    "acme.cert-manager.io/http-token": "1181813539",
}
#: Ports no edge uses, probed too: HTTP, SSH, the API server, kubelet, CoreDNS metrics, Traefik.
EXTRA_PORTS = {22, 80, 443, 6443, 8443, 9153, 10250}


def template(manifest: dict) -> dict:
    spec = manifest["spec"]
    return spec["jobTemplate"]["spec"]["template"] if manifest["kind"] == "CronJob" else spec["template"]


def workload_peers(stack, ns: str = NS) -> dict[str, Peer]:
    """One peer per workload of the namespace: its pod labels and named ports, from the render."""
    peers = {}
    for i, m in enumerate(m for m in stack.manifests if m["kind"] in WORKLOADS):
        assert m["metadata"]["namespace"] == ns
        tpl = template(m)
        ports = {p["name"]: p["containerPort"] for c in tpl["spec"]["containers"] for p in c.get("ports", [])}
        peers[m["metadata"]["name"]] = Peer(m["metadata"]["name"], ns, f"10.42.0.{10 + i}", tpl["metadata"]["labels"], ports)
    return peers


def cluster_pods(ns: str) -> dict[str, Peer]:
    """Pods the cluster itself puts into our namespace: cert-manager's solver during a challenge."""
    return {"acme-solver": Peer("acme-solver", ns, "10.42.0.90", SOLVER_LABELS, {"http": 8089})}


def outside_peers(raw: dict, web_labels: dict) -> dict[str, Peer]:
    postgres = str(ipaddress.ip_network(raw["network"]["postgres"]["cidr"]).network_address)
    peers = [
        Peer("traefik", "kube-system", "10.42.1.5", TRAEFIK_LABELS, {"web": 8000, "websecure": 8443}),
        Peer("kube-dns", "kube-system", "10.42.0.3", COREDNS_LABELS, {"dns": 53, "dns-tcp": 53, "metrics": 9153}),
        Peer("metrics-server", "kube-system", "10.42.0.4", {"k8s-app": "metrics-server"}),
        Peer("prometheus", "monitoring", "10.42.2.7", PROMETHEUS_LABELS),
        Peer("grafana", "monitoring", "10.42.2.8", {"app.kubernetes.io/name": "grafana"}),
        # A pod of another namespace wearing the web tier's labels gets none of its rights.
        Peer("impostor", "default", "10.42.2.9", web_labels),
        Peer("postgres", None, postgres),
        Peer("internet", None, "203.0.113.7"),  # api.lurus.cn, wherever it resolves
        Peer("kube-apiserver", None, "100.100.10.1"),  # a server node's Tailscale address (:6443)
        Peer("kubernetes-service", None, "10.43.0.1"),  # the `kubernetes` Service (:443)
        Peer("kubelet", None, "100.100.10.2"),
        Peer("cloud-metadata", None, "169.254.169.254"),
        Peer("lan-host", None, "192.168.1.20"),
    ]
    remote = raw.get("backup", {}).get("remote", {})
    if remote.get("cidr"):
        peers.append(Peer("restic-repository", None, str(ipaddress.ip_network(remote["cidr"]).network_address)))
    return {p.name: p for p in peers}


Edge = tuple[str, str, int, str]


def intended(workloads: set[str], raw: dict, *, monitoring: bool) -> set[Edge]:
    """The platform's connections (issue 6 part 1, spec 3, 16.2, 17)."""
    pg = raw["postgres"]["port"]
    edges = {
        ("traefik", "ai-qtrd-web", 3000, "TCP"),
        ("traefik", "ai-qtrd-api", 8000, "TCP"),
        ("ai-qtrd-web", "ai-qtrd-api", 8000, "TCP"),
        ("ai-qtrd-web", "redis-proxy", 6379, "TCP"),
        ("ai-qtrd-api", "redis-proxy", 6379, "TCP"),
        ("ai-qtrd-web", "postgres", pg, "TCP"),
        ("ai-qtrd-api", "postgres", pg, "TCP"),
        ("ai-qtrd-web", "internet", 443, "TCP"),
        ("ai-qtrd-api", "internet", 443, "TCP"),
        ("redis-proxy", "redis", 6379, "TCP"),
        ("redis", "redis", 6379, "TCP"),
    }
    if raw["redis"]["sentinel"]["enabled"]:
        edges.add(("redis", "redis", 26379, "TCP"))
    if "redis-backup" in workloads:
        edges.add(("redis-backup", "redis-proxy", 6380, "TCP"))
    if "postgres-backup" in workloads:
        edges.add(("postgres-backup", "postgres", pg, "TCP"))
    if raw.get("backup", {}).get("remote", {}).get("enabled"):
        # The off-site copy (issue 16): S3 over HTTPS to the repository's address only.
        edges |= {(job, "restic-repository", 443, "TCP") for job in ("redis-backup", "postgres-backup") if job in workloads}
        # A public address like the AI API's: the apps' HTTPS egress reaches it too (they hold no credentials).
        edges |= {("ai-qtrd-web", "restic-repository", 443, "TCP"), ("ai-qtrd-api", "restic-repository", 443, "TCP")}
    if monitoring:
        edges |= {("prometheus", "ai-qtrd-web", 3000, "TCP"), ("prometheus", "ai-qtrd-api", 8000, "TCP"),
                  ("prometheus", "redis", 9121, "TCP")}
    # Let's Encrypt's HTTP-01 request, through Traefik, to the solver; allow-dns covers every pod.
    edges.add(("traefik", "acme-solver", 8089, "TCP"))
    for name in workloads | {"acme-solver"}:
        edges |= {(name, "kube-dns", 53, "UDP"), (name, "kube-dns", 53, "TCP")}
    return edges


def allowed_matrix(stack, raw: dict) -> tuple[set[Edge], set[Edge]]:
    """(allowed, probed): every (source, target, port, protocol) with one end in the namespace."""
    ns = raw["namespace"]
    mine = workload_peers(stack, ns)
    web_labels = dict(mine["ai-qtrd-web"].labels)
    peers = {**outside_peers(raw, web_labels), **cluster_pods(ns), **mine}
    ports = {p for peer in peers.values() for p in peer.ports.values()} | EXTRA_PORTS | {raw["postgres"]["port"]}
    probes = {(port, "TCP") for port in ports} | {(53, "UDP"), (443, "UDP")}
    cluster = Cluster(stack.all("NetworkPolicy"))
    allowed, probed = set(), set()
    for src in peers.values():
        for dst in peers.values():
            if ns not in (src.namespace, dst.namespace):
                continue  # neither end is ours: not this stack's business
            for port, protocol in probes:
                edge = (src.name, dst.name, port, protocol)
                probed.add(edge)
                if cluster.allowed(src, dst, port, protocol):
                    allowed.add(edge)
    return allowed, probed


def assert_exactly(stack, raw: dict, *, monitoring: bool) -> None:
    allowed, probed = allowed_matrix(stack, raw)
    want = intended(set(workload_peers(stack, raw["namespace"])), raw, monitoring=monitoring)
    assert want <= probed, f"intended edges outside the probed space: {sorted(want - probed)}"
    missing, extra = sorted(want - allowed), sorted(allowed - want)
    assert not missing and not extra, f"denied but needed: {missing}\nallowed but not needed: {extra}"


def raw_with(stack: str = "prod", **sections) -> dict:
    values, _ = render.stack_config(stack, ROOT)
    raw = {k.split(":", 1)[1]: json.loads(v) if v.startswith(("{", "[")) else v for k, v in values.items()}
    raw.update(sections)
    return raw


MONITORING_ON = {**prod_raw()["monitoring"], "enabled": True, "prometheusRule": True,
                 "prometheusPodLabels": PROMETHEUS_LABELS}


def test_prod_allows_exactly_the_platform_edges(prod):
    assert_exactly(prod, prod_raw(), monitoring=False)


def test_with_monitoring_prometheus_reaches_exactly_the_scrape_ports():
    overrides = {"monitoring": MONITORING_ON}
    assert_exactly(run_stack("prod", overrides), raw_with(**overrides), monitoring=True)


def test_without_sentinel_redis_pods_talk_on_the_redis_port_only():
    redis = copy.deepcopy(prod_raw()["redis"])
    redis["sentinel"]["enabled"] = False
    assert_exactly(run_stack("prod", {"redis": redis}), raw_with(redis=redis), monitoring=False)


def test_the_dev_stack_gets_the_same_isolation_in_its_namespace():
    """One node, one Redis pod without Sentinel, another namespace: the same component fits."""
    overrides = {"network": prod_raw()["network"], "monitoring": MONITORING_ON}
    raw = raw_with("dev", **overrides)
    assert raw["namespace"] != NS and not raw["redis"]["sentinel"]["enabled"]
    assert_exactly(run_stack("dev", overrides), raw, monitoring=True)


def test_every_pod_is_isolated_both_ways(prod):
    cluster = Cluster(prod.all("NetworkPolicy"))
    for peer in workload_peers(prod).values():
        assert cluster.isolated(peer, "Ingress") and cluster.isolated(peer, "Egress"), peer.name
    deny = prod.get("NetworkPolicy", "default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_network_policies_are_valid_kubernetes_1_32():
    stack = run_stack("prod", {"monitoring": MONITORING_ON})
    policies = stack.all("NetworkPolicy")
    assert {p["metadata"]["name"] for p in policies} >= {
        "default-deny", "allow-dns", "ai-qtrd-web", "ai-qtrd-api", "redis-proxy", "redis",
    }
    for policy in policies:
        assert policy["metadata"]["namespace"] == NS
        assert policy["metadata"]["labels"]["app.kubernetes.io/part-of"] == "gushen"
        kubernetes_validate.validate(policy, K3S_KUBERNETES, strict=True)


def test_switch_off_renders_no_policy():
    network = {**prod_raw()["network"], "enabled": False}
    stack = run_stack("prod", {"network": network})
    assert stack.all("NetworkPolicy") == []
    assert len(stack.of_type("gushen:network:NetworkIsolation")) == 1


def test_component_parents_its_policies(prod):
    (component,) = prod.of_type("gushen:network:NetworkIsolation")
    policies = prod.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    assert policies and all(p.parent == component.urn for p in policies)


def test_the_component_outputs_name_every_policy_it_made(prod):
    (component,) = prod.of_type("gushen:network:NetworkIsolation")
    names = component.outputs["policy_names"]
    assert len(names) == len(set(names))
    assert set(names) == {m["metadata"]["name"] for m in prod.all("NetworkPolicy")}


def test_the_spec_example_would_block_traefik_and_dns(prod):
    """Spec 16.2 selects Traefik's namespace by ``name: kube-system`` (K3s sets no such label) and
    isolates egress without allowing DNS: applied as written, the site is down."""
    example = {
        "kind": "NetworkPolicy", "metadata": {"name": "ai-qtrd-network-policy", "namespace": NS},
        "spec": {
            "podSelector": {"matchLabels": {"app": "ai-qtrd-web"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"name": "kube-system"}}}],
                         "ports": [{"protocol": "TCP", "port": 3000}]}],
            "egress": [
                {"to": [{"podSelector": {"matchLabels": {"app": "redis"}}}], "ports": [{"protocol": "TCP", "port": 6379}]},
                {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/component": "api"}}}],
                 "ports": [{"protocol": "TCP", "port": 8000}]},
            ],
        },
    }
    mine = workload_peers(prod)
    peers = outside_peers(prod_raw(), dict(mine["ai-qtrd-web"].labels))
    spec_cluster = Cluster([example])
    web = mine["ai-qtrd-web"]
    assert not spec_cluster.allowed(peers["traefik"], web, 3000)
    assert not spec_cluster.allowed(web, peers["kube-dns"], 53, "UDP")
    # ... while the rendered policies allow both.
    ours = Cluster(prod.all("NetworkPolicy"))
    assert ours.allowed(peers["traefik"], web, 3000)
    assert ours.allowed(web, peers["kube-dns"], 53, "UDP")


# --- the evaluator itself --------------------------------------------------------------------


def _policy(spec: dict, namespace: str = NS) -> dict:
    return {"kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": namespace}, "spec": spec}


A = Peer("a", NS, "10.42.0.1", {"app": "a"}, {"http": 8080})
B = Peer("b", NS, "10.42.0.2", {"app": "b"})
OTHER = Peer("c", "other", "10.42.0.3", {"app": "a"})


def test_evaluator_policy_types_default_to_ingress_plus_egress_when_rules_exist():
    ingress_only = Cluster([_policy({"podSelector": {}})])
    assert ingress_only.isolated(A, "Ingress") and not ingress_only.isolated(A, "Egress")
    both = Cluster([_policy({"podSelector": {"matchLabels": {"app": "a"}}, "egress": [{"to": [{"podSelector": {}}]}]})])
    assert both.isolated(A, "Egress") and both.allowed(A, B, 1) and not both.allowed(A, OTHER, 1)
    assert both.isolated(A, "Ingress") and not both.allowed(B, A, 1), "Ingress is always a default type"


def test_evaluator_pod_and_namespace_selectors_and_versus_or():
    both = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "other"}},
            "podSelector": {"matchLabels": {"app": "a"}}}
    anded = Cluster([_policy({"podSelector": {"matchLabels": {"app": "b"}}, "ingress": [{"from": [both]}]})])
    assert anded.allowed(OTHER, B, 1) and not anded.allowed(A, B, 1)
    ored = Cluster([_policy({"podSelector": {"matchLabels": {"app": "b"}}, "ingress": [{"from": [
        {"namespaceSelector": both["namespaceSelector"]}, {"podSelector": both["podSelector"]}]}]})])
    assert ored.allowed(OTHER, B, 1) and ored.allowed(A, B, 1)


def test_evaluator_ports_named_ranges_and_protocols():
    cluster = Cluster([_policy({"podSelector": {"matchLabels": {"app": "a"}}, "ingress": [
        {"ports": [{"port": "http"}, {"protocol": "UDP", "port": 5000, "endPort": 5010}]}]})])
    assert cluster.allowed(B, A, 8080) and not cluster.allowed(B, A, 8081)
    assert cluster.allowed(B, A, 5005, "UDP") and not cluster.allowed(B, A, 5005, "TCP")


def test_evaluator_ip_block_except():
    out = Cluster([_policy({"podSelector": {}, "policyTypes": ["Egress"], "egress": [
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]}]})])
    assert out.allowed(A, Peer("x", None, "203.0.113.1"), 443)
    assert not out.allowed(A, Peer("y", None, "10.1.2.3"), 443)
    assert not out.allowed(A, B, 443), "a pod address inside the except range"


# --- config ----------------------------------------------------------------------------------


#: A label key's DNS prefix may be 253 characters long (Kubernetes' validation.IsQualifiedName).
PREFIX_253 = ("a" * 63 + ".") * 3 + "b" * 61


@pytest.mark.parametrize(
    "path, value, expected",
    [
        ("network.postgres", ...,
         ["gushen:network.postgres.cidr: required when enabled is true (the database's address, e.g. 192.0.2.10/32)"]),
        ("network.postgres.cidr", "192.0.2.10/24", ["gushen:network.postgres.cidr: invalid CIDR "
         "(192.0.2.10/24 has host bits set; want e.g. 192.0.2.10/32) (got '192.0.2.10/24')"]),
        ("network.postgres.cidr", "192.0.2.10/32/1", ["gushen:network.postgres.cidr: invalid CIDR ('192.0.2.10/32/1' "
         "does not appear to be an IPv4 or IPv6 network; want e.g. 192.0.2.10/32) (got '192.0.2.10/32/1')"]),
        # The except list: each a strict subnet of the cidr, of its IP version; named by index.
        ("network.httpsEgress", [{"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "0.0.0.0/0", "2001:db8::/32"]}],
         ["gushen:network.httpsEgress.0.except.1: '0.0.0.0/0' is not a strict subnet of cidr '0.0.0.0/0'",
          "gushen:network.httpsEgress.0.except.2: '2001:db8::/32' is not a strict subnet of cidr '0.0.0.0/0'"]),
        ("network.httpsEgress", [{"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}],
         ["gushen:network.httpsEgress.0.except.0: '192.168.0.0/16' is not a strict subnet of cidr '10.0.0.0/8'"]),
        ("network.httpsEgress", [], ["gushen:network.httpsEgress: empty, so the apps could not reach the AI API (got [])"]),
        ("network.traefikPodLabels", {"app name": "traefik"},
         ["gushen:network.traefikPodLabels: invalid label key 'app name' (got {\"app name\": \"traefik\"})"]),
        ("network.traefikPodLabels", {"app": "bad value"},
         ["gushen:network.traefikPodLabels: invalid value 'bad value' of label 'app' (got {\"app\": \"bad value\"})"]),
        ("network.traefikPodLabels", {f"{PREFIX_253}b/name": "traefik"},
         [f"gushen:network.traefikPodLabels: invalid label key '{PREFIX_253}b/name' (got "
          + f'{{"{PREFIX_253}b/name": "traefik"}}'[:77] + "...)"]),
        ("network.dnsNamespace", "Kube_System", ["gushen:network.dnsNamespace: invalid name (want a DNS-1123 label: "
         "lower-case letters, digits, '-') (got 'Kube_System')"]),
    ],
)
def test_bad_network_config_is_named(path, value, expected):
    assert problems_of(with_change(path, value)) == expected


@pytest.mark.parametrize("path, value", [
    ("network.traefikPodLabels", {f"{PREFIX_253}/name": "traefik"}),
    ("network", {"enabled": False}),  # no isolation: no database address, no egress list needed
    ("network", {"enabled": False, "httpsEgress": []}),
], ids=["253-char prefix", "off", "off, no egress"])
def test_network_config_at_its_edges_is_accepted(path, value):
    assert config.validate(with_change(path, value), SECRET_KEYS).network


def test_defaults_select_the_pods_k3s_runs():
    """A stack that leaves the selectors out still matches K3s's Traefik and CoreDNS."""
    defaults = config.Network()
    assert defaults.traefik_namespace == defaults.dns_namespace == "kube-system"
    assert defaults.traefik_pod_labels.items() <= TRAEFIK_LABELS.items()
    assert defaults.dns_pod_labels.items() <= COREDNS_LABELS.items()


# --- actors the cluster and the operators add --------------------------------------------------


def test_traefik_reaches_the_acme_solver_and_nothing_else_does(prod):
    cluster = Cluster(prod.all("NetworkPolicy"))
    mine = workload_peers(prod)
    peers = {**outside_peers(prod_raw(), dict(mine["ai-qtrd-web"].labels)), **mine}
    solver = cluster_pods(NS)["acme-solver"]
    assert cluster.allowed(peers["traefik"], solver, 8089)
    assert not cluster.allowed(peers["traefik"], solver, 8088)
    for name, peer in peers.items():
        if name != "traefik":
            assert not cluster.allowed(peer, solver, 8089), name
    assert not cluster.allowed(solver, mine["redis-proxy"], 6379), "the solver only answers"
    policy = prod.get("NetworkPolicy", "acme-http01-solver")["spec"]
    assert policy["podSelector"] == {"matchLabels": {"acme.cert-manager.io/http01-solver": "true"}}


OPERATIONS = ROOT / "docs" / "operations.md"


def documented_cache_cleanup() -> str:
    """The command docs/operations.md gives for spec 13.5 (cache cleanup)."""
    (row,) = [line for line in OPERATIONS.read_text().splitlines() if line.startswith("| 13.5")]
    command = re.findall(r"`(kubectl exec [^`]+)`", row)[0]  # the prod one (the dev one follows)
    return command.replace("\\|", "|")  # a pipe inside a table cell is escaped


def dialled(command: str, stack) -> tuple[str, str]:
    """(pod the command runs in, workload it connects to) for a ``kubectl exec ... redis-cli -h HOST``."""
    pod = re.search(r"kubectl exec -n \S+ (\S+)", command)[1]
    source = re.sub(r"-\d+$", "", pod)
    if "SENTINEL get-master-addr-by-name" in command:
        return source, "redis"  # the current master: a Redis pod
    host = re.search(r"redis-cli -h (\S+)", command)[1]
    service = stack.get("Service", host.split(".")[0])
    (target,) = [m["metadata"]["name"] for m in stack.manifests if m["kind"] in WORKLOADS
                 and all(template(m)["metadata"]["labels"].get(k) == v for k, v in service["spec"]["selector"].items())]
    return source, target


def test_the_documented_cache_cleanup_works_under_the_policies(prod):
    cluster = Cluster(prod.all("NetworkPolicy"))
    mine = workload_peers(prod)
    source, target = dialled(documented_cache_cleanup(), prod)
    assert cluster.allowed(mine[source], mine[target], 6379), (source, target)


def test_the_old_cache_cleanup_through_redis_service_is_blocked(prod):
    """Why the command changed: the Redis pods may not dial the proxy, only each other."""
    cluster = Cluster(prod.all("NetworkPolicy"))
    mine = workload_peers(prod)
    source, target = dialled("kubectl exec -n ai-qtrd redis-0 -c redis -- redis-cli -h redis-service FLUSHALL", prod)
    assert (source, target) == ("redis", "redis-proxy")
    assert not cluster.allowed(mine[source], mine[target], 6379)
