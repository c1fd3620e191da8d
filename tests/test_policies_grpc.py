"""The pack over its real protocol: started as the CLI starts it, driven through the Analyzer gRPC service.

``python -u -m pulumi.policy <engine> policies`` (cwd = repository root) runs
``policies/__main__.py``, which serves ``pulumirpc.Analyzer`` on a loopback port it prints.
The test plays the engine: it calls ``GetAnalyzerInfo``, ``Configure`` (with the schema
defaults, as the CLI's ``ReconcilePolicyPackConfig`` does), ``Analyze`` per resource and
``AnalyzeStack`` with the mocked prod stack's registrations, and checks the diagnostics are
exactly what ``policies.check`` reports for the same objects.

``AnalyzeStack`` gets each resource's *outputs*, not its inputs (pulumi/pulumi,
``pkg/resource/deploy/step_generator.go``, ``AnalyzeResources``: ``Properties:
resource.FromResourcePropertyMap(v.Outputs)``): what the API server returned, so a Secret has
``data`` (base64) and no ``stringData``, and quantities are the server's canonical form
(``cpu: "1"`` for ``1000m``). :func:`as_outputs` shapes the mocked registrations that way.
"""

from __future__ import annotations

import base64
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
from policies import pack
from policies.base import SECRET_SIG, Obj
from policies.catalog import RULES, evaluate
from policies.quantity import parse
from policies.config import resolve

from .conftest import ROOT, stop_process
from .policy_baseline import prod_settings, with_prod

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


def serve_pack(python: str, address: str, pack_dir: str, cwd, env=None) -> Iterator[proto.AnalyzerStub]:
    """Start a pack as the CLI does (``python -u -m pulumi.policy ENGINE DIR``) and yield a client
    of the port it prints; stop it afterwards."""
    process = subprocess.Popen(
        [python, "-u", "-m", "pulumi.policy", address, pack_dir],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
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


@pytest.fixture(scope="module")
def analyzer(engine) -> Iterator[proto.AnalyzerStub]:
    address, _ = engine
    yield from serve_pack(sys.executable, address, "policies", ROOT)


def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(values)
    return out


def configure(
    stub: proto.AnalyzerStub,
    overrides: Optional[dict[str, dict[str, Any]]] = None,
    unknown: Optional[dict[str, dict[str, Any]]] = None,
    stack_config: bool = True,
) -> None:
    """Configure as the CLI does: every policy, its level and its schema defaults, then the overrides
    (over prod's generated policy config, ``--policy-pack-config policies/config.prod.json``,
    unless ``stack_config`` is false). A key without a default is not sent unless given.

    ``unknown``: entries for names the pack does not have, which the CLI passes on as given
    (``applyConfig`` in pulumi/pulumi ``pkg/resource/analyzer/config.go``).
    """
    overrides = with_prod(overrides) if stack_config else overrides
    info = stub.GetAnalyzerInfo(empty_pb2.Empty())
    config = {
        name: proto.PolicyConfig(
            enforcementLevel=LEVEL_OF[entry.get("enforcementLevel", "mandatory")],
            properties=_struct({k: v for k, v in entry.items() if k != "enforcementLevel"}),
        )
        for name, entry in (unknown or {}).items()
    }
    for policy in info.policies:
        schema = json_format.MessageToDict(policy.configSchema.properties)
        props = {k: v["default"] for k, v in schema.items() if "default" in v}
        level = policy.enforcementLevel
        override = (overrides or {}).get(policy.name, {})
        props.update({k: v for k, v in override.items() if k != "enforcementLevel"})
        if "enforcementLevel" in override:
            level = LEVEL_OF[override["enforcementLevel"]]
        config[policy.name] = proto.PolicyConfig(enforcementLevel=level, properties=_struct(props))
    stub.Configure(proto.ConfigureAnalyzerRequest(policyConfig=config))


def analyze(
    stub: proto.AnalyzerStub, recs: list[render.Recorded], outputs: Optional[list[dict[str, Any]]] = None,
) -> list[tuple[str, str]]:
    """``(line, urn)`` of every diagnostic, with lines in ``policies.check`` format.

    ``Analyze`` gets the inputs; ``AnalyzeStack`` gets ``outputs`` (default: the inputs again).
    """
    out = []
    responses = [
        stub.Analyze(proto.AnalyzeRequest(type=r.type, properties=_struct(r.inputs), urn=r.urn, name=r.name))
        for r in recs
    ]
    stack_props = outputs if outputs is not None else [r.inputs for r in recs]
    responses.append(stub.AnalyzeStack(proto.AnalyzeStackRequest(resources=[
        proto.AnalyzerResource(type=r.type, properties=_struct(props), urn=r.urn, name=r.name)
        for r, props in zip(recs, stack_props)
    ])))
    for response in responses:
        for d in response.diagnostics:
            description, _, detail = d.message.partition("\n")
            assert description == d.description
            out.append((f"{LEVEL[d.enforcementLevel]} {d.policyName} {detail}", d.urn))
    return out


def check_lines(recs: list[render.Recorded], config: Optional[dict[str, Any]] = None) -> list[str]:
    objects = [Obj.from_manifest(m) for m in render.manifests(recs)]
    return [v.line for v in evaluate(objects, prod_settings(config))]


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
    ] + [(pack.CONFIG_POLICY, pack.check_config.__doc__.splitlines()[0], "mandatory",
          proto.PolicyType.POLICY_TYPE_STACK)]
    caps = {p.name: json_format.MessageToDict(p.configSchema.properties) for p in info.policies}
    # A stack's nodes are no default of the pack: they come from its generated config.
    assert "default" not in caps["node-placement"]["nodes"] and "default" not in caps["node-capacity"]["allocatable"]


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


# --- a bad --policy-pack-config -------------------------------------------------------------------


def test_an_unknown_key_is_one_violation_naming_it_not_a_traceback(analyzer, recs):
    configure(analyzer, {"node-placement": {"nodez": {"web": "n1"}}})
    try:
        found = analyze(analyzer, recs)
    finally:
        configure(analyzer)
    assert found == [(
        "mandatory policy-pack-config node-placement.nodez: unknown key for this policy "
        '(it reads: nodes, dataComponents), value {"web": "n1"}', "",
    )]


def test_without_the_stacks_config_the_rules_on_nodes_are_one_violation_each_naming_the_file(analyzer, recs):
    """``pulumi preview --policy-pack policies`` with no ``--policy-pack-config``: the pack has no
    nodes of its own, so it says which file to pass instead of checking prod's names from memory."""
    configure(analyzer, stack_config=False)
    try:
        found = [line for line, _ in analyze(analyzer, recs)]
    finally:
        configure(analyzer)
    hint = ("required: a stack's nodes come from its stack file; run with its generated config, "
            "--policy-pack-config policies/config.<stack>.json (make policy-config writes it)")
    assert sorted(found) == [f"mandatory policy-pack-config node-capacity.allocatable: {hint}, or disable node-capacity",
                             f"mandatory policy-pack-config node-placement.nodes: {hint}, or disable node-placement"]


def test_a_value_the_schema_lets_through_is_reported_by_the_pack(analyzer, recs):
    """The CLI checks values against the schema; the pack repeats every check policies.check makes."""
    configure(analyzer, {"resource-caps": {"caps": {"web": {"cpu": "1", "memory": "1Gi", "gpu": "1"}}}})
    try:
        found = [line for line, _ in analyze(analyzer, recs)]
    finally:
        configure(analyzer)
    assert found == ['mandatory policy-pack-config resource-caps.caps.web.gpu: unknown key (value "1")']


def test_unknown_policy_names_are_reported_by_the_pack(analyzer, recs):
    configure(analyzer, unknown={"node-placment": {"enforcementLevel": "advisory"}, "all": {}})
    try:
        found = [line for line, _ in analyze(analyzer, recs)]
    finally:
        configure(analyzer)
    assert len(found) == 1
    assert found[0].startswith("mandatory policy-pack-config node-placment: unknown policy (known: ")


def test_the_config_problems_match_policies_check_config():
    document = {"node-placement": {"nodez": {}}, "helth-probes": {"exemptContainers": []}}
    with pytest.raises(Exception) as offline:
        resolve(document, RULES)
    assert pack.config_problems(document) == offline.value.problems  # type: ignore[attr-defined]


# --- AnalyzeStack with outputs ---------------------------------------------------------------------


def _wrap_secret(value: Any) -> dict[str, Any]:
    # The engine's wire form of a secret output (sdk/go/common/resource/properties.go, SecretSig).
    return {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "value": value}


def _canonical(quantity: str, resource: str) -> str:
    """The API server's canonical form as the tests model it: whole cores as "1", memory in bytes."""
    value = parse(quantity)
    if resource == "memory":
        return str(int(value))
    return str(value.numerator) if value.denominator == 1 else f"{int(value * 1000)}m"


def _normalise(node: Any) -> None:
    if isinstance(node, dict):
        for field in ("requests", "limits"):
            quantities = node.get(field)
            if isinstance(quantities, dict):
                for resource in ("cpu", "memory"):
                    if isinstance(quantities.get(resource), str):
                        quantities[resource] = _canonical(quantities[resource], resource)
        for value in node.values():
            _normalise(value)
    elif isinstance(node, list):
        for value in node:
            _normalise(value)


def as_outputs(recs: list[render.Recorded]) -> list[dict[str, Any]]:
    """Each registration's props as the engine's state would hold them after the API server answered."""
    out = []
    for r in recs:
        props = copy.deepcopy(r.inputs)
        if r.type == "kubernetes:core/v1:Secret":
            string_data = render.plain(props.pop("stringData", None)) or {}
            data = {k: base64.b64encode(str(v).encode()).decode() for k, v in string_data.items()}
            props["data"] = _wrap_secret({**props.get("data", {}), **data})
        _normalise(props)
        if isinstance(props.get("metadata"), dict):
            props["metadata"].update(uid="0d0c8f0e-6c1b-4d8e-9f7a-1b2c3d4e5f60", resourceVersion="4711", generation=1)
        props.setdefault("status", {})
        out.append(props)
    return out


def test_outputs_are_shaped_as_the_api_server_returns_them(recs):
    outputs = {(r.type, r.name): o for r, o in zip(recs, as_outputs(recs))}
    secret = outputs[("kubernetes:core/v1:Secret", "ai-qtrd-secrets")]
    assert "stringData" not in secret and set(secret["data"]) == {SECRET_SIG, "value"}
    web = outputs[("kubernetes:apps/v1:Deployment", "ai-qtrd-web")]["spec"]["template"]["spec"]["containers"][0]
    limits = web["resources"]["limits"]
    assert limits["memory"].isdigit() and parse(limits["memory"]) == 512 * 2**20
    api = outputs[("kubernetes:apps/v1:Deployment", "ai-qtrd-api")]["spec"]["template"]["spec"]["containers"][0]
    assert api["resources"]["limits"]["cpu"] == "1"


def test_prod_outputs_pass_over_grpc_as_inputs_do(analyzer, recs):
    configure(analyzer)
    assert analyze(analyzer, recs, as_outputs(recs)) == []


def test_stack_policies_read_outputs_as_check_reads_the_same_manifests(analyzer, recs):
    """A key missing from a Secret's data, and a node overflowing with normalised quantities."""
    broken = copy.deepcopy(recs)
    by_key = {(r.type, r.name): r for r in broken}
    string_data = by_key[("kubernetes:core/v1:Secret", "ai-qtrd-secrets")].inputs["stringData"]
    del string_data.get("value", string_data)["NEXTAUTH_SECRET"]
    by_key[("kubernetes:apps/v1:Deployment", "ai-qtrd-web")].inputs["spec"]["replicas"] = 9
    outputs = as_outputs(broken)
    configure(analyzer, {"node-capacity": {"enforcementLevel": "mandatory"}})
    stack_lines = sorted(line for line, _ in analyze(analyzer, broken, outputs)
                         if line.split()[1] in {r.name for r in RULES if r.stack})
    offline = [Obj.from_manifest(render.plain(o)) for r, o in zip(broken, outputs) if r.type.startswith("kubernetes:")]
    stack_rules = {r.name for r in RULES if r.stack}
    expected = sorted(v.line for v in evaluate([o for o in offline if o], prod_settings()) if v.policy in stack_rules)
    assert stack_lines == expected
    assert {line.split()[1] for line in stack_lines} == {"config-references", "node-capacity"}
    assert any("key 'NEXTAUTH_SECRET' of Secret 'ai-qtrd-secrets'" in line for line in stack_lines)
    assert any("worst-case cpu limits" in line or "worst-case memory limits" in line for line in stack_lines)


def test_engine_heard_no_errors(analyzer, engine):
    _, servicer = engine
    assert [log.message for log in servicer.logs if log.severity >= proto.ERROR] == []
