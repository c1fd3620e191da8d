"""Rollouts and the provider's await on the real controllers: a changed pod template rolls the
Deployment and the StatefulSet; the provider's await (``deploymentInitAwaiter`` /
``statefulsetInitAwaiter`` in pulumi-kubernetes ``provider/pkg/await``, tests/kube/provider.py)
holds while old pods serve and ends when every pod runs the new template. The played kubelet
makes a new pod Ready at its next step: what is timed here is the control plane's share only
(bench/kube_deploy.py reports the cold deploy beside the modeled figure)."""

from __future__ import annotations

import secrets

import kubernetes
import pytest

from .kube import provider
from .kube.stack import rendered
from .test_change_impact import REDIS, WEB, merge, with_

pytestmark = pytest.mark.kube


def test_a_template_change_rolls_out_and_the_await_ends_when_every_pod_is_new(kube):
    ns = f"rollout-{secrets.token_hex(3)}"
    objects = rendered("prod", {"namespace": ns})
    change = merge(with_("web.image", "gushen-web:v19"), with_("redis.maxmemory", "1024mb"), {"namespace": ns})
    after = {o.key: o for o in rendered("prod", change)}
    try:
        engine = kube.deploy(objects, settle=True)
        rolled = [after[o.key] for o in objects if o.manifest["kind"] in ("Deployment", "StatefulSet")
                  and o.manifest["metadata"]["name"] in (WEB, REDIS)]
        assert len(rolled) == 2
        apps, core = kubernetes.client.AppsV1Api(kube.api), kubernetes.client.CoreV1Api(kube.api)
        first_revision = apps.read_namespaced_stateful_set(REDIS, ns).status.update_revision
        engine.up(rolled)
        # Until the (played) kubelet reports new pods Ready, the provider would still be waiting.
        for obj in rolled:
            assert not provider.ready(engine.provider(obj), obj.manifest, created=False), obj.key
        kube.await_all(engine, rolled, created=False)

        web = [p for p in core.list_namespaced_pod(ns, label_selector=f"app={WEB}").items if p.metadata.deletion_timestamp is None]
        assert web and {p.spec.containers[0].image for p in web} == {"gushen-web:v19"}
        sts = apps.read_namespaced_stateful_set(REDIS, ns)
        redis = core.list_namespaced_pod(ns, label_selector=f"app={REDIS}").items
        assert len(redis) == sts.spec.replicas
        assert sts.status.update_revision != first_revision, "the maxmemory change is in the pod template"
        assert {p.metadata.labels["controller-revision-hash"] for p in redis} == {sts.status.update_revision}
    finally:
        kube.clean(objects)
