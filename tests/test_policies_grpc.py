"""The pack over its real protocol: started as the CLI starts it, driven through the Analyzer gRPC service.

``python -u -m pulumi.policy <engine> policies`` (cwd = repository root) runs
``policies/__main__.py``, which serves ``pulumirpc.Analyzer`` on a loopback port it prints.
The test plays the engine: it calls ``GetAnalyzerInfo``, ``Configure`` (with the schema
defaults, as the CLI's ``ReconcilePolicyPackConfig`` does), ``Analyze`` per resource and
``AnalyzeStack`` with the mocked prod stack's registrations, and checks the diagnostics are
exactly what ``policies.check`` reports for the same objects.
"""

from __future__ import annotations

import copy
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any, Optional

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import proto

from gushen_infra import render
from policies.base import Obj
from policies.catalog import RULES, evaluate
from policies.config import resolve

from .conftest import ROOT, stop_process

STARTUP_SECONDS = 60
LEVEL = {proto.ADVISORY: "advisory", proto.MANDATORY: "mandatory", proto.DISABLED: "disabled"}
LEVEL_OF = {v: k for k, v in LEVEL.items()}


class FakeEngine(proto.EngineServicer):
    """The engine address the CLI hands the policy host; records what the host logs."""

    def __init__(self) -> None:
        self.logs: list[Any] = []

    def Log(self, request, context):
        self.logs.append(request)
        return empty_pb2.Empty()

    def GetRootResource(self, request, context):
        return proto.GetRootResourceResponse(urn="")

    def SetRootResource(self, request, context):
        return proto.SetRootResourceResponse()


@pytest.fixture(scope="module")
def engine() -> Iterator[tuple[str, FakeEngine]]:
    servicer = FakeEngine()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    proto.add_EngineServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", servicer
    finally:
        server.stop(0)


def _first_line(stream, timeout: float) -> Optional[str]:
    lines: "queue.Queue[str]" = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return None


@pytest.fixture(scope="module")
def analyzer(engine) -> Iterator[proto.AnalyzerStub]:
    address, _ = engine
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", address, "policies"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    channel = None
    try:
        line = _first_line(process.stdout, STARTUP_SECONDS)
        if not line or not line.strip().isdigit():
            process.kill()
            pytest.fail(f"policy pack did not print its port (got {line!r}); stderr:\n{process.stderr.read()}")
        channel = grpc.insecure_channel(f"127.0.0.1:{line.strip()}")
        grpc.channel_ready_future(channel).result(timeout=STARTUP_SECONDS)
        yield proto.AnalyzerStub(channel)
    finally:
        if channel is not None:
            channel.close()
        stop_process(process)


def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(values)
    return out


def configure(stub: proto.AnalyzerStub, overrides: Optional[dict[str, dict[str, Any]]] = None) -> None:
    """Configure as the CLI does: every policy, its level and its schema defaults, then the overrides."""
    info = stub.GetAnalyzerInfo(empty_pb2.Empty())
    config = {}
    for policy in info.policies:
        props = {k: v["default"] for k, v in json_format.MessageToDict(policy.configSchema.properties).items()}
        level = policy.enforcementLevel
        override = (overrides or {}).get(policy.name, {})
        props.update({k: v for k, v in override.items() if k != "enforcementLevel"})
        if "enforcementLevel" in override:
            level = LEVEL_OF[override["enforcementLevel"]]
        config[policy.name] = proto.PolicyConfig(enforcementLevel=level, properties=_struct(props))
    stub.Configure(proto.ConfigureAnalyzerRequest(policyConfig=config))


def analyze(stub: proto.AnalyzerStub, recs: list[render.Recorded]) -> list[tuple[str, str]]:
    """``(line, urn)`` of every diagnostic, with lines in ``policies.check`` format."""
    out = []
    responses = [
        stub.Analyze(proto.AnalyzeRequest(type=r.type, properties=_struct(r.inputs), urn=r.urn, name=r.name))
        for r in recs
    ]
    responses.append(stub.AnalyzeStack(proto.AnalyzeStackRequest(resources=[
        proto.AnalyzerResource(type=r.type, properties=_struct(r.inputs), urn=r.urn, name=r.name) for r in recs
    ])))
    for response in responses:
        for d in response.diagnostics:
            description, _, detail = d.message.partition("\n")
            assert description == d.description
            out.append((f"{LEVEL[d.enforcementLevel]} {d.policyName} {detail}", d.urn))
    return out


def check_lines(recs: list[render.Recorded], config: Optional[dict[str, Any]] = None) -> list[str]:
    objects = [Obj.from_manifest(m) for m in render.manifests(recs)]
    return [v.line for v in evaluate(objects, resolve(config, RULES))]


@pytest.fixture(scope="module")
def recs() -> list[render.Recorded]:
    return render.run_program("prod")


@pytest.fixture(scope="module")
def broken(recs) -> list[render.Recorded]:
    """The prod registrations with a web container without limits, and an API Service aimed at no port."""
    out = copy.deepcopy(recs)
    by_key = {(r.type, r.name): r for r in out}
    web = by_key[("kubernetes:apps/v1:Deployment", "ai-qtrd-web")]
    del web.inputs["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    web.inputs["spec"]["template"]["spec"]["automountServiceAccountToken"] = True
    by_key[("kubernetes:core/v1:Service", "ai-qtrd-api")].inputs["spec"]["ports"][0]["targetPort"] = "nope"
    return out


def test_analyzer_info_lists_every_policy(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "gushen-policies" and info.supportsConfig
    got = [(p.name, p.description, LEVEL[p.enforcementLevel], p.policy_type) for p in info.policies]
    assert got == [
        (r.name, r.description, r.enforcement,
         proto.PolicyType.POLICY_TYPE_STACK if r.stack else proto.PolicyType.POLICY_TYPE_RESOURCE)
        for r in RULES
    ]
    caps = {p.name: json_format.MessageToDict(p.configSchema.properties) for p in info.policies}
    assert caps["node-placement"]["nodes"]["default"]["web"] == "cloud-ubuntu-3-2c2g"


def test_prod_stack_passes_over_grpc(analyzer, recs):
    configure(analyzer)
    assert analyze(analyzer, recs) == [] == check_lines(recs)


def test_violations_match_policies_check(analyzer, broken):
    configure(analyzer)
    lines = check_lines(broken)
    assert sorted(line for line, _ in analyze(analyzer, broken)) == sorted(lines)
    assert {line.split()[1] for line in lines} == {"container-resources", "no-service-account-token", "service-endpoints"}


def test_stack_violations_carry_the_object_urn(analyzer, broken):
    configure(analyzer)
    urns = {line.split()[1]: urn for line, urn in analyze(analyzer, broken)}
    service = next(r for r in broken if r.type == "kubernetes:core/v1:Service" and r.name == "ai-qtrd-api")
    assert service.urn and urns["service-endpoints"] == service.urn


def test_configure_sets_levels_and_values_like_check_config(analyzer, broken):
    overrides = {
        "container-resources": {"enforcementLevel": "disabled"},
        "no-service-account-token": {"enforcementLevel": "advisory"},
        "resource-caps": {"defaultCap": {"cpu": "1m", "memory": "1Mi"}, "caps": {}},
    }
    configure(analyzer, overrides)
    lines = check_lines(broken, overrides)
    got = sorted(line for line, _ in analyze(analyzer, broken))
    configure(analyzer)
    assert got == sorted(lines)
    assert not any(" container-resources " in line for line in lines)
    assert any(line.startswith("advisory no-service-account-token ") for line in lines)
    assert any(" resource-caps StatefulSet/redis:" in line for line in lines)


def test_unknown_values_in_preview_are_no_violations(analyzer, recs):
    """Values the engine cannot know yet arrive as sentinels: the pack reports nothing it cannot see."""
    unknown_string, unknown_object = "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"
    preview = copy.deepcopy(recs)
    by_key = {(r.type, r.name): r for r in preview}
    web = by_key[("kubernetes:apps/v1:Deployment", "ai-qtrd-web")].inputs["spec"]["template"]["spec"]
    web["nodeSelector"]["kubernetes.io/hostname"] = unknown_string
    web["containers"][0]["env"][-1]["valueFrom"]["secretKeyRef"]["name"] = unknown_string
    by_key[("kubernetes:core/v1:Secret", "ai-qtrd-secrets")].inputs["stringData"] = unknown_object
    configure(analyzer)
    assert analyze(analyzer, preview) == []


def test_engine_heard_no_errors(analyzer, engine):
    _, servicer = engine
    assert [log.message for log in servicer.logs if log.severity >= proto.ERROR] == []
