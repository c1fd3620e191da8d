"""A cold ``pulumi up`` of prod on a real control plane (the kube tier's, tests/kube), timed.

Real: etcd, kube-apiserver, controller-manager and scheduler 1.36 on loopback; the requests and
awaits of pulumi-kubernetes (tests/kube/provider.py). Played, and instantaneous: the kubelet
(a bound pod is Running and Ready at its next step: no image pull, no container start, no
readiness probe) and the local-path provisioner. So the figure is the control plane's share of a
cold deploy (API calls, controllers, scheduling, volume binding), a floor under the real one; the
modeled figure (bench/model.py) is the kubelet's and probes' share that this cannot measure.
Objects are sent one after another, then awaited, where the engine runs independent ones in
parallel.
"""

from __future__ import annotations

import secrets
import statistics
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def cold_deploy(runs: int = 3) -> dict[str, Any]:
    """Median seconds of ``runs`` cold deploys of prod, each into a namespace of its own."""
    from tests.kube import binaries, cluster, harness
    from tests.kube.stack import rendered

    try:
        bin_dir = binaries.locate(ROOT.parent / "shared" / "tools" / "kube", ROOT / ".cache" / "kube")
    except binaries.Unavailable as e:
        return {"skipped": str(e)}
    kube = harness.KubeCluster.start(bin_dir, cluster.stack_nodes("prod"))
    applied, ready = [], []
    try:
        for _ in range(runs):
            objects = rendered("prod", {"namespace": f"bench-{secrets.token_hex(3)}"})
            t0 = time.monotonic()
            engine = kube.deploy(objects)
            applied.append(time.monotonic() - t0)
            kube.await_all(engine, [o for o in objects if o.manifest["kind"] != "Namespace"])
            ready.append(time.monotonic() - t0)
            kube.clean(objects)
    finally:
        kube.stop()
    return {"runs": runs, "objects": len(objects), "applied_median_s": statistics.median(applied),
            "workloads_ready_median_s": statistics.median(ready), "ready_s": ready,
            "control_plane_ready_s": kube.timings["control_plane_ready"], "kubelet": "played, instantaneous"}
