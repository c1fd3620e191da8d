"""gushen_infra/kinds.py: a NetworkPolicy or CronJob registered through ``CustomResource`` is, to
the engine, the registration the typed pulumi-kubernetes class sends."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pytest
from google.protobuf.json_format import MessageToDict
from pulumi.runtime.mocks import MockMonitor

from gushen_infra import kinds, render

METADATA = {"name": "allow-dns", "namespace": "ai-qtrd", "labels": {"app": "allow-dns"}}
SPECS = {
    "NetworkPolicy": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 53}]}]},
    "CronJob": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}},
}
#: Where in the program the call came from: differs by construction, means nothing to a deployment.
CALL_SITE = ("sourcePosition", "stackTrace")


class Capturing(MockMonitor):
    """The mock engine, keeping every RegisterResourceRequest whole (the protobuf the CLI receives)."""

    def __init__(self, mocks: render.RecordingMocks):
        super().__init__(mocks)
        self.requests: list = []

    def RegisterResource(self, request):
        self.requests.append(request)
        return super().RegisterResource(request)


def registration(register) -> dict:
    mocks = render.RecordingMocks()
    monitor = Capturing(mocks)
    pulumi.runtime.set_mocks(mocks, project="gushen-infra", stack="prod", preview=False, monitor=monitor)

    @pulumi.runtime.test
    def program():
        provider = k8s.Provider("k3s", kubeconfig="{}")
        owner = pulumi.ComponentResource("gushen:test:Owner", "owner")
        scripts = k8s.core.v1.ConfigMap("scripts", data={"a": "b"}, opts=pulumi.ResourceOptions(provider=provider))
        register(pulumi.ResourceOptions(parent=owner, provider=provider, depends_on=[scripts], protect=True))

    program()
    (request,) = [r for r in monitor.requests if r.name == "obj"]
    return {k: v for k, v in MessageToDict(request).items() if k not in CALL_SITE}


@pytest.mark.parametrize("kind, typed", [
    (kinds.NETWORK_POLICY, lambda: k8s.networking.v1.NetworkPolicy),
    (kinds.CRON_JOB, lambda: k8s.batch.v1.CronJob),
])
def test_the_engine_receives_what_the_typed_class_sends(kind, typed):
    spec = SPECS[kind.kind]
    ours = registration(lambda opts: kinds.register(kind, "obj", METADATA, spec, opts))
    theirs = registration(lambda opts: typed()("obj", metadata=METADATA, spec=spec, opts=opts))
    assert ours == theirs
    # the comparison saw what matters: the token, the inputs and the aliases of older API versions
    assert ours["type"] == f"kubernetes:{kind.api_version}:{kind.kind}"
    assert ours["object"]["spec"] == spec and ours["object"]["kind"] == kind.kind
    assert len(ours.get("aliases") or ours.get("aliasSpecs") or []) == len(kind.alias_types)
