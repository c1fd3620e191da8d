"""bench/model.py: the modeled cold ``pulumi up``, checked on tiny hand-made graphs with known answers."""

from __future__ import annotations

from typing import Any, Optional

import pytest

from bench import model
from bench.model import Timing
from gushen_infra.render import Recorded

T = Timing(api_s=1.0, pod_start_s=3.0, init_container_s=2.0, service_settle_s=10.0, probe_phase=0.5)
STACK = "urn:pulumi:prod::gushen-infra::pulumi:pulumi:Stack"
NS = "apps"


def urn(kind: str, name: str) -> str:
    return f"{STACK}$kubernetes:x:{kind}::{name}"


def obj(kind: str, name: str, deps: tuple[str, ...] = (), parent: str = STACK, **body: Any) -> Recorded:
    """A recorded object as the engine sends it (ints as floats, as the mocks record them)."""
    inputs = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": NS}, **body}
    return Recorded(f"kubernetes:x:{kind}", name, inputs, urn=urn(kind, name), parent=parent, dependencies=list(deps))


def component(name: str, deps: tuple[str, ...] = ()) -> Recorded:
    return Recorded("gushen:x:Thing", name, {}, urn=f"{STACK}$gushen:x:Thing::{name}", parent=STACK,
                    dependencies=list(deps))


def readiness(delay: float, period: float, success: Optional[float] = None) -> dict[str, Any]:
    probe: dict[str, Any] = {"initialDelaySeconds": delay, "periodSeconds": period, "httpGet": {"port": 80.0}}
    if success is not None:
        probe["successThreshold"] = success
    return probe


def workload(kind: str, name: str, deps: tuple[str, ...] = (), replicas: float = 1.0,
             containers: Optional[list[dict[str, Any]]] = None, **spec: Any) -> Recorded:
    labels = {"app": name}
    template = {"metadata": {"labels": labels},
                "spec": {"containers": containers or [{"name": "c", "readinessProbe": readiness(10.0, 4.0)}]}}
    return obj(kind, name, deps, spec={"replicas": replicas, "selector": {"matchLabels": labels},
                                       "template": template, **spec})


def service(name: str, selects: str, deps: tuple[str, ...] = (), **spec: Any) -> Recorded:
    return obj("Service", name, deps, spec={"selector": {"app": selects}, "ports": [{"port": 80.0}], **spec})


# --- pods --------------------------------------------------------------------------------------


def test_readiness_passes_on_the_first_tick_after_the_delay_then_success_threshold_more_periods():
    # first probe: 10 s delay + half a 4 s period; two successes needed: one more period.
    assert model.container_ready_s({"readinessProbe": readiness(10, 4, 2)}, T) == 10 + 2 + 4


def test_readiness_waits_for_the_startup_probe():
    startup = {"periodSeconds": 6, "exec": {"command": ["true"]}}
    # startup passes at 0 + 3; readiness (delay 1) may start then, first tick half a period (1 s) later.
    assert model.container_ready_s({"startupProbe": startup, "readinessProbe": readiness(1, 2)}, T) == 3 + 1


def test_kubernetes_probe_defaults_apply_and_no_probe_means_ready_at_start():
    assert model.container_ready_s({"readinessProbe": {"httpGet": {"port": 80}}}, T) == 0 + 0.5 * 10
    assert model.container_ready_s({"name": "plain"}, T) == 0


def test_pod_adds_start_and_init_containers_and_waits_for_its_slowest_container():
    spec = {
        "initContainers": [
            {"name": "migrate"},
            {"name": "wait"},
            {"name": "proxy", "restartPolicy": "Always", "readinessProbe": readiness(20, 2)},  # a native sidecar
        ],
        "containers": [{"name": "app", "readinessProbe": readiness(10, 4)}],
    }
    # 3 s start + 2 init containers x 2 s, then the sidecar (20 + 1) is slower than the app (10 + 2).
    assert model.pod_ready_s(spec, T) == 3 + 4 + 21


@pytest.mark.parametrize(
    "kind, spec, expected",
    [
        ("Deployment", {"replicas": 3}, 15),
        ("Deployment", {"replicas": 3, "minReadySeconds": 5}, 20),
        ("Deployment", {"replicas": 0}, 0),
        ("StatefulSet", {"replicas": 3}, 3 * 15),  # OrderedReady: one pod after another
        ("StatefulSet", {"replicas": 3, "podManagementPolicy": "Parallel"}, 15),
        ("DaemonSet", {}, 15),
    ],
)
def test_workload_ready(kind, spec, expected):
    # every pod: 3 s start + 10 s delay + half of a 4 s period = 15 s
    template = {"spec": {"containers": [{"name": "c", "readinessProbe": readiness(10, 4)}]}}
    ready, _ = model.workload_ready_s({"kind": kind, "spec": {**spec, "template": template}}, T)
    assert ready == expected


# --- the graph ---------------------------------------------------------------------------------


def tiny_stack() -> list[Recorded]:
    """Namespace -> Secret -> db; the api waits for the db's Service; a component wraps the api."""
    ns = obj("Namespace", "apps")
    secret = obj("Secret", "creds", deps=(ns.urn,))
    db = workload("StatefulSet", "db", deps=(secret.urn,), replicas=2.0)
    db_svc = service("db", "db", deps=(ns.urn,))
    tier = component("api-tier")
    api = workload("Deployment", "api", deps=(db_svc.urn,), replicas=2.0)
    api.parent = tier.urn
    api_svc = service("api", "api", deps=(ns.urn,))
    api_svc.parent = tier.urn
    route = obj("IngressRoute", "web", deps=(tier.urn,))  # depends on the component: on all it holds
    return [ns, secret, db, db_svc, tier, api, api_svc, route]


def test_tiny_stack_times_and_critical_chain():
    plan = model.model(tiny_stack(), T)
    s = {step.label: step for step in plan.steps.values()}
    assert (s["Namespace/apps"].done, s["Secret/creds"].done) == (1, 2)
    # db: created at 2 (+1 s API call), then 2 pods one by one (OrderedReady), 15 s each.
    assert s["StatefulSet/db"].done == 2 + 1 + 2 * 15
    # its Service waits for those pods, then 10 s for stragglers
    assert s["Service/db"].done == 33 + 10
    # api starts once the db Service is done; its pods start together.
    assert (s["Deployment/api"].start, s["Deployment/api"].done) == (43, 43 + 1 + 15)
    assert s["Service/api"].done == 59 + 10
    # the route waits for everything in the component, the api Service included
    assert (s["IngressRoute/web"].start, s["IngressRoute/web"].done) == (69, 70)
    assert plan.workloads_ready_s == 59
    assert plan.done_s == 70
    assert [step.label for step in plan.chain] == [
        "Namespace/apps", "Secret/creds", "StatefulSet/db", "Service/db", "Deployment/api",
    ]
    assert plan.warnings == []


def test_headless_service_and_skip_await_do_not_wait_for_pods():
    ns = obj("Namespace", "apps")
    db = workload("StatefulSet", "db", deps=(ns.urn,))
    headless = service("db-headless", "db", deps=(ns.urn,), clusterIP="None")
    skipped = service("db-skip", "db", deps=(ns.urn,))
    skipped.inputs["metadata"]["annotations"] = {"pulumi.com/skipAwait": "true"}
    plan = model.model([ns, db, headless, skipped], T)
    s = {step.label: step for step in plan.steps.values()}
    assert s["Service/db-headless"].done == s["Service/db-skip"].done == 2
    assert s["StatefulSet/db"].done == 1 + 1 + 15


def test_service_in_another_namespace_does_not_wait_for_same_named_pods():
    ns = obj("Namespace", "apps")
    db = workload("Deployment", "db", deps=(ns.urn,))
    other = service("db", "db", deps=(ns.urn,))
    other.inputs["metadata"]["namespace"] = "elsewhere"
    plan = model.model([ns, db, other], T)
    assert plan.steps[other.urn].done == 1 + 1 + 10
    assert plan.warnings == ["Service/db selects no workload of the stack: its await would time out"]


def test_a_workload_waiting_for_the_service_that_selects_it_is_a_cycle():
    svc = service("api", "api")
    api = workload("Deployment", "api", deps=(svc.urn,))
    with pytest.raises(ValueError, match="cycle"):
        model.model([svc, api], T)


def test_prod_chain_is_a_dependency_path_that_ends_at_the_last_ready_workload(prod):
    plan = model.model(prod.resources)
    chain = plan.chain
    assert chain[0].kind == "Namespace"
    assert chain[-1].kind in model.WORKLOADS and chain[-1].done == plan.workloads_ready_s
    by_urn = {r.urn: r for r in prod.resources}
    for before, after in zip(chain, chain[1:]):
        # each step waited for the one before: as a dependency, or (a Service) for its pods
        assert after.after == before.urn
        assert before.urn in by_urn[after.urn].dependencies or after.kind == "Service", (before.label, after.label)
        assert before.done <= after.done
    workloads = [s for s in plan.steps.values() if s.kind in model.WORKLOADS]
    assert plan.workloads_ready_s == max(s.done for s in workloads)


def test_prod_cold_deploy_waits_for_no_service(prod):
    """Names are passed as plain strings: no tier waits for another tier's pods behind a Service."""
    plan = model.model(prod.resources)
    assert [s.label for s in plan.chain if s.kind in ("Service", "Deployment", "StatefulSet")][:-1] == []
