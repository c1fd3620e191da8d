"""Scheduling by the real kube-scheduler: the capacity policy (``policies/capacity.py``) and the
scheduler agree, case by case, on which nodes cannot hold their pods at the policy's worst moment
(tests/kube/scheduling.py says how that moment is put to the scheduler). Every case runs on nodes
of its own, the stack's renamed with the same allocatable. (That every pod lands on its tier's
node is checked in ``test_kube_drain.py``, on the stacks it deploys anyway.)"""

from __future__ import annotations

import contextlib
import secrets

import pytest

from gushen_infra import policy_config, render
from policies.base import Obj
from policies.catalog import RULES, evaluate
from policies.config import resolve

from .conftest import ROOT
from .kube import scheduling
from .kube.stack import objects_of
from .test_change_impact import with_
from .test_config import prod_raw

pytestmark = pytest.mark.kube
CAPACITY = "node-capacity"


def _web(**resources):
    return with_("web.resources", {**prod_raw()["web"]["resources"], **resources})


def _web_hpa(top: int):
    return with_("web.autoscaling", {**prod_raw()["web"]["autoscaling"], "enabled": True, "minReplicas": 2, "maxReplicas": top})


def _redis_memory(limit: str, maxmemory: str):
    redis = prod_raw()["redis"]
    return {"redis": {**redis, "maxmemory": maxmemory,
                      "resources": {**redis["resources"], "limits": {**redis["resources"]["limits"], "memory": limit}}}}


#: A node renamed in the stack file (so declared in gushen:clusterNodes) that the cluster lacks. A
#: tier on an undeclared node never gets this far: config refuses it (tests/test_policy_config.py).
RENAMED = "web node renamed in the stack file, not in the cluster"
#: case -> (overrides, the tiers whose node both must find too small; "renamed" renames the web node).
CASES = {
    "prod fits": ({}, set()),
    "web replicas 3: fits to the last core": (with_("web.replicas", 3), set()),
    "web replicas 4: one too many": (with_("web.replicas", 4), {"web"}),
    "web HPA at max 5": (_web_hpa(5), {"web"}),
    "web requests raised past the node's allocatable": (_web(requests={"cpu": "2500m", "memory": "256Mi"},
                                                             limits={"cpu": "2500m", "memory": "512Mi"}), {"web"}),
    RENAMED: ({}, {"renamed"}),
    "Redis memory raised past the data node": (_redis_memory("11Gi", "10gb"), {"data"}),
}


def policy_flags(manifests: list[dict], overrides: dict) -> set[str]:
    """The nodes the capacity policy refuses, with the pack config generated from the stack as rendered."""
    settings = resolve(policy_config.document(render.settings_of(*render.stack_values("prod", ROOT, overrides))), RULES)
    return {v.name for v in evaluate([Obj.from_manifest(m) for m in manifests], settings) if v.policy == CAPACITY}


@pytest.fixture(scope="module")
def verdicts(kube) -> dict[str, tuple[set[str], set[str], set[str], list]]:
    """Per case: (policy's nodes, scheduler's nodes, expected nodes, placements). The cases are
    deployed side by side, each on nodes and in a namespace of its own, and settled together:
    the controllers' pace, not the cases, sets the time."""
    out, deployed = {}, []
    with contextlib.ExitStack() as stack:
        for case, (overrides, expected) in CASES.items():
            own = stack.enter_context(kube.own_nodes("prod"))
            # A node renamed in the stack file (declared there) that the cluster does not have.
            nodes = {**own, "web": f"{own['web']}-new"} if "renamed" in expected else own
            ns = f"sched-{secrets.token_hex(3)}"
            overrides = {**overrides, **kube.declared(nodes, like=own), "namespace": ns}
            objects = objects_of(render.run_program("prod", ROOT, overrides))
            workloads = [o for o in scheduling.worst_case(objects)
                         if o.manifest["kind"] in ("Namespace", "Deployment", "StatefulSet", "Job", "PersistentVolumeClaim")]
            deployed.append((case, ns, workloads, objects, overrides,
                             {nodes["web"] if t == "renamed" else nodes[t] for t in expected}))
        try:
            for _, _, workloads, *_ in deployed:
                kube.deploy(workloads, preview=False)  # test_kube_stacks.py dry-runs them
            kube.players.settle(lambda: all(scheduling.settled(kube.api, d[1]) for d in deployed), 90,
                                "every pod placed or unplaceable")
            for case, ns, _, objects, overrides, flagged in deployed:
                out[case] = (policy_flags([o.manifest for o in objects], overrides), scheduling.unplaced(kube.api, ns),
                             flagged, scheduling.placements(kube.api, ns))
        finally:
            for _, _, workloads, *_ in deployed:
                kube.clean(workloads)
    return out


@pytest.mark.parametrize("case", CASES)
def test_capacity_policy_and_scheduler_agree(verdicts, case):
    policy, scheduler, flagged, placements = verdicts[case]
    if case == RENAMED:
        # The pack's only source of nodes is the stack file (it is published alone and sees no
        # cluster), so it passes the renamed node; the scheduler leaves its pods Pending and
        # pulumi up's Deployment await fails. Renaming a node is an edit of both (docs/configuration.md).
        assert (policy, scheduler) == (set(), flagged), placements
        return
    assert (policy, scheduler) == (flagged, flagged), placements
