"""The first ``pulumi up`` against the running cluster (tests/fixtures/live-cluster.yaml), object by
object, through the change-impact rules of tests/engine_model.py.

What the engine does with the ``import`` option (pulumi ``pkg/resource/deploy``): ``ImportStep``
reads the live object (pulumi-kubernetes ``kubeProvider.Read``: the object's top-level input
properties, less creationTimestamp/generation/managedFields/resourceVersion/uid and the
last-applied annotation), then ``continueStepsFromImport`` applies ``ignoreChanges``
(``processIgnoreChanges``: the old value wins) and diffs it against the program like any update;
a diff that replaces an imported resource is an error ("previously-imported resources that
still specify an ID may not be replaced", ``continueStepsFromDiff``). A resource that is not
imported but exists fails with AlreadyExists (``await.Creation``).
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from gushen_infra import adoption, config, render
from gushen_infra.render import Recorded, plain

from . import engine_model as em
from .conftest import ROOT, run_stack

FIXTURE = Path(__file__).parent / "fixtures" / "live-cluster.yaml"
#: What kubeProvider.Read drops from an imported object's inputs.
READ_DROPS = ("creationTimestamp", "generation", "managedFields", "resourceVersion", "uid")
#: The runbook's steps that change the cluster before ``pulumi up`` (docs/adoption.md, step 4):
#: ``kubectl -n ai-qtrd delete statefulset redis --cascade=orphan`` (pods and PVCs stay).
RUNBOOK_DELETES = {("StatefulSet", "ai-qtrd", "redis")}
ADOPTED, UPDATED, CREATED, REPLACED_BY_RUNBOOK = "adopted", "adopted, updated in place", "created", "replaced by the runbook"
ADOPT = {"adopt": {"enabled": True}, "network": {"enabled": False}}


def live_objects() -> dict[tuple[str, str, str], dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(FIXTURE.read_text()) if d]
    return {(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]): d for d in docs}


@pytest.fixture(scope="module")
def live() -> dict[tuple[str, str, str], dict[str, Any]]:
    return live_objects()


@pytest.fixture(scope="module")
def adopting() -> list[Recorded]:
    """The prod program in adoption mode, with the live secrets kept (placeholders, set as secrets)."""
    return run_stack("prod", ADOPT).resources


def read_on_import(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs ``kubeProvider.Read`` gives an imported object."""
    inputs = copy.deepcopy(dict(obj))
    meta = inputs["metadata"]
    for key in READ_DROPS:
        meta.pop(key, None)
    (meta.get("annotations") or {}).pop("kubectl.kubernetes.io/last-applied-configuration", None)
    return inputs


def ignore_changes(new: Any, old: Any, paths: Sequence[str]) -> Any:
    """``processIgnoreChanges``: each ignored path takes its old value."""
    out = copy.deepcopy(new)
    for path in paths:
        keys = path.split(".")
        src, dst = old, out
        for key in keys[:-1]:
            src, dst = (src or {}).get(key), dst.setdefault(key, {})
        if isinstance(src, Mapping) and keys[-1] in src:
            dst[keys[-1]] = src[keys[-1]]
    return out


def ident(rec: Recorded) -> tuple[str, str, str]:
    return em._ident(rec)


def with_ignored(program: Sequence[Recorded], olds: Mapping[str, Any]) -> list[Recorded]:
    """The program's inputs as the engine diffs them: ignoreChanges paths keep the old inputs (by URN)."""
    return [
        replace(r, inputs=ignore_changes(plain(r.inputs), olds[r.urn], r.options.get("ignoreChanges") or []))
        if r.urn in olds else r
        for r in program
    ]


def first_up(
    program: Sequence[Recorded], live: Mapping[tuple[str, str, str], Any], runbook_deletes=RUNBOOK_DELETES
) -> dict[tuple[str, str, str], em.Step]:
    """The steps of the first ``pulumi up``, keyed by object, after the runbook's deletions."""
    cluster = {k: v for k, v in live.items() if k not in runbook_deletes}
    imported = [r for r in program if r.options.get("importId") and ident(r) in cluster]
    before = [replace(r, inputs=read_on_import(cluster[ident(r)])) for r in imported]
    after = with_ignored(program, {r.urn: r.inputs for r in before})
    steps = em.plan(before, after, cluster)
    out = {}
    for urn, step in steps.items():
        rec = next(r for r in after if r.urn == urn)
        if rec.options.get("importId") and ident(rec) not in cluster:
            step = em.Step(em.FAIL, ("import: the object does not exist",), step.kind, step.name)
        elif rec.options.get("importId") and (step.op == em.REPLACE or step.delete_before_replace):
            step = em.Step(em.FAIL, ("an imported resource may not be replaced", *step.reasons), step.kind, step.name)
        out[ident(rec)] = step
    return out


def outcome(step: em.Step, key: tuple[str, str, str]) -> str:
    if key in RUNBOOK_DELETES and step.op == em.CREATE:
        return REPLACED_BY_RUNBOOK
    return {em.SAME: ADOPTED, em.UPDATE: UPDATED, em.CREATE: CREATED}.get(step.op, f"{step.op}: {step.reasons}")


def test_every_live_object_is_adopted_updated_or_replaced_by_a_runbook_step(adopting, live):
    steps = first_up(adopting, live)
    plan = {key: outcome(steps[key], key) for key in live}
    expected = {key: UPDATED for key in live}
    expected[("StatefulSet", "ai-qtrd", "redis")] = REPLACED_BY_RUNBOOK
    assert plan == expected
    # Nothing else fails or is deleted or replaced: every other object is new and created.
    others = {k: s.op for k, s in steps.items() if k not in live}
    assert others and set(others.values()) == {em.CREATE}, others


def test_without_adoption_the_first_up_fails_with_already_exists_and_never_overwrites(live):
    normal = run_stack("prod").resources
    assert not any(r.options.get("importId") for r in normal)
    assert em.ProviderFlags.of(next(r for r in normal if r.type == em.PROVIDER_TYPE)).upsert is False
    steps = first_up(normal, live, runbook_deletes=set())
    # Only the cluster-wide ClusterIssuer goes through the upserting provider (shared, retained on delete).
    upserted = {("ClusterIssuer", "", "letsencrypt-prod")}
    assert {k for k, s in steps.items() if s.op == em.FAIL} == set(live) - upserted
    assert all("AlreadyExists" in steps[k].reasons[0] for k in set(live) - upserted)
    assert {k for k, s in steps.items() if s.op == em.ADOPT} & set(live) == upserted


def test_the_statefulset_cannot_be_imported_its_immutable_fields_differ(adopting, live):
    """Why the runbook replaces it: imported, the engine would have to replace it, which it refuses."""
    sts = next(r for r in adopting if r.type == "kubernetes:apps/v1:StatefulSet")
    assert not sts.options.get("importId")
    imported = [replace(sts, options={**sts.options, "importId": "ai-qtrd/redis"})]
    step = first_up(imported, live, runbook_deletes=set())[("StatefulSet", "ai-qtrd", "redis")]
    assert step.op == em.FAIL and "an imported resource may not be replaced" in step.reasons
    reasons = " ".join(step.reasons)
    assert "spec.podManagementPolicy" in reasons and "spec.volumeClaimTemplates" in reasons
    with pytest.raises(config.ConfigError, match="adopt.objects: 'StatefulSet/redis' cannot be imported"):
        run_stack("prod", {**ADOPT, "adopt": {"enabled": True, "objects": [*config.LIVE_OBJECTS, "StatefulSet/redis"]}})


def test_services_keep_their_cluster_ip_or_the_import_would_replace_them(adopting, live):
    """The import reads spec.clusterIP into the inputs; without ignoreChanges the diff removes it (force-new)."""
    stripped = [replace(r, options={**r.options, "ignoreChanges": []}) for r in adopting]
    steps = first_up(stripped, live)
    failed = {k[2] for k, s in steps.items() if s.op == em.FAIL}
    assert failed == {"ai-qtrd-web", "ai-qtrd-api", "redis-service"}  # redis-headless: clusterIP None both sides
    assert all(list(adoption.SERVICE_IGNORE) == r.options["ignoreChanges"] for r in adopting if r.type.endswith(":Service"))


def test_config_maps_and_secret_update_in_place_only_because_the_provider_makes_them_mutable(adopting, live):
    provider = next(r for r in adopting if r.type == em.PROVIDER_TYPE and r.name == "k3s")
    immutable = replace(provider, inputs={k: v for k, v in provider.inputs.items() if "Mutable" not in k})
    steps = first_up([immutable if r is provider else r for r in adopting], live)
    failed = {k for k, s in steps.items() if s.op == em.FAIL}
    # Their data differ from the live objects', so they would be replaced, which an import may not be.
    assert failed == {("Secret", "ai-qtrd", "ai-qtrd-secrets"), ("ConfigMap", "ai-qtrd", "ai-qtrd-config"),
                      ("ConfigMap", "ai-qtrd", "redis-config")}


def test_web_and_api_roll_in_place_on_the_live_selector(adopting, live):
    """Zero downtime: same selector (immutable), so the Deployment rolls (maxUnavailable 0, maxSurge 1)."""
    manifests = {(m["kind"], m["metadata"]["name"]): m for m in map(plain, (r.inputs for r in adopting)) if "kind" in m}
    for name in ("ai-qtrd-web", "ai-qtrd-api"):
        ours, theirs = manifests[("Deployment", name)], live[("Deployment", "ai-qtrd", name)]
        assert ours["spec"]["selector"] == theirs["spec"]["selector"]
        assert ours["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
        # The old ReplicaSet's pods stay behind the Service until the new pods are Ready.
        service = manifests[("Service", name)]["spec"]["selector"]
        assert service.items() <= theirs["spec"]["template"]["metadata"]["labels"].items()
        assert service.items() <= ours["spec"]["template"]["metadata"]["labels"].items()


def test_the_new_statefulset_adopts_the_running_redis_pods_and_their_volumes(adopting, live):
    ours = plain(next(r for r in adopting if r.type == "kubernetes:apps/v1:StatefulSet").inputs)
    theirs = live[("StatefulSet", "ai-qtrd", "redis")]
    pod_labels = theirs["spec"]["template"]["metadata"]["labels"]
    assert ours["spec"]["selector"]["matchLabels"].items() <= pod_labels.items(), "orphaned pods must match"
    assert ours["spec"]["serviceName"] == theirs["spec"]["serviceName"], "same pod DNS names"
    claims = lambda sts: [t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]]  # noqa: E731
    assert claims(ours) == claims(theirs), "same PVCs <claim>-redis-N, so no pod starts on an empty volume"
    # The old StatefulSet is deleted with --cascade=orphan by the runbook; ours is never deleted by Pulumi.
    assert ours["metadata"]["annotations"]["pulumi.com/deletionPropagationPolicy"] == "orphan"


def test_imported_objects_keep_their_api_version(adopting, live):
    """An import reads the object through the program's apiVersion: a Traefik CRD group mismatch would miss it."""
    for rec in adopting:
        if rec.options.get("importId"):
            assert plain(rec.inputs)["apiVersion"] == live[ident(rec)]["apiVersion"], ident(rec)


def test_the_next_run_in_normal_mode_only_names_the_service_ports_again(adopting, live, kept_live_secrets):
    """After the adoption run the state holds our inputs (clusterIPs kept); switching adopt off is not a change."""
    imported = {r.urn: read_on_import(live[ident(r)]) for r in adopting if r.options.get("importId")}
    state = with_ignored(adopting, imported)  # what the adoption run stored
    normal = run_stack("prod", {"network": {"enabled": False}}).resources
    steps = em.plan(state, with_ignored(normal, {r.urn: plain(r.inputs) for r in state}))
    changed = {(s.kind, s.name): s.op for s in steps.values() if s.op != em.SAME}
    services = {("Service", ref.split("/")[1]) for ref in config.LIVE_OBJECTS if ref.startswith("Service/")}
    # The adopted Services target their ports by name again; the providers' enablePatchForce goes
    # off (adoption.provider_settings: an update, DiffConfig replaces only on a cluster change).
    providers = {("pulumi:providers:kubernetes", p): em.UPDATE for p in ("k3s", "k3s-retained")}
    assert changed == {**{s: em.UPDATE for s in services}, **providers}
    reasons = {r for s in steps.values() if s.kind == "Service" for r in s.reasons}
    assert reasons and all(r.startswith("spec.ports[") and r.endswith("].targetPort") for r in reasons), reasons


def test_adoption_mode_refuses_network_isolation_and_needs_the_live_secrets():
    values, secret_keys = render.stack_values("prod", ROOT, {"adopt": {"enabled": True}})
    # The offline render holds placeholders for them (render.stack_values); a real stack may not.
    assert {f"gushen:{key}" for key in config.KEPT_SECRETS} <= set(secret_keys)
    for key in config.KEPT_SECRETS:
        del values[f"gushen:{key}"]
    with pytest.raises(config.ConfigError) as err:
        render.settings_of(values, secret_keys)
    problems = "\n".join(err.value.problems)
    assert "gushen:network.enabled: must be false while adopt.enabled is true" in problems
    assert "gushen:redisPassword: required while adopt.enabled is true" in problems
    assert "gushen:nextauthSecret: required while adopt.enabled is true" in problems


def test_workloads_always_force_and_adopt_force_adds_objects_in_the_adoption_run():
    def forced(resources) -> set[tuple[str, str]]:
        return {(ident(r)[0], ident(r)[2]) for r in resources if r.type.startswith("kubernetes:")
                and (plain(r.inputs).get("metadata", {}).get("annotations") or {}).get(adoption.PATCH_FORCE)}

    normal = forced(run_stack("prod").resources)
    # Workloads always force (their replicas, test_kube_day2.py); nothing else outside adoption.
    assert normal and {kind for kind, _ in normal} == adoption.FORCED_KINDS
    adopting = run_stack("prod", {**ADOPT, "adopt": {"enabled": True, "force": ["ConfigMap/redis-config"]}}).resources
    assert forced(adopting) == normal | {("ConfigMap", "redis-config")}
    with pytest.raises(config.ConfigError, match="adopt.force: 'Deployment/redis-proxy' is not in gushen:adopt.objects"):
        run_stack("prod", {**ADOPT, "adopt": {"enabled": True, "force": ["Deployment/redis-proxy"]}})


def _container_ports(pod_spec: Mapping[str, Any]) -> tuple[set[int], set[str]]:
    ports = [p for c in pod_spec["containers"] for p in c.get("ports", [])]
    return {p["containerPort"] for p in ports}, {p["name"] for p in ports if "name" in p}


def _resolves(target: Any, pod_spec: Mapping[str, Any]) -> bool:
    """The EndpointSlice controller's lookup: a number is used as is, a name must be a container port's."""
    return isinstance(target, int) or target in _container_ports(pod_spec)[1]


def _pod_specs(manifests: Sequence[Mapping[str, Any]]) -> list[tuple[dict[str, str], Mapping[str, Any]]]:
    return [(m["spec"]["template"]["metadata"]["labels"], m["spec"]["template"]["spec"])
            for m in manifests if m["kind"] in ("Deployment", "StatefulSet")]


def test_adopted_services_keep_endpoints_on_old_and_new_pods_throughout(adopting, live):
    """While kubectl's pods (unnamed ports) and ours run side by side, every Service reaches both."""
    ours = [plain(r.inputs) for r in adopting if r.type.startswith("kubernetes:") and "kind" in r.inputs]
    old_pods = _pod_specs(list(live.values()))
    new_pods = _pod_specs(ours)
    for svc in (m for m in ours if m["kind"] == "Service" and f"Service/{m['metadata']['name']}" in config.LIVE_OBJECTS):
        selector = svc["spec"]["selector"]
        for pods in (old_pods, new_pods):
            for labels, spec in pods:
                if selector.items() <= labels.items():
                    for port in svc["spec"]["ports"]:
                        assert _resolves(port["targetPort"], spec), (svc["metadata"]["name"], port)
    # Normal mode names them again (our pods declare the names).
    for svc in (m for m in run_stack("prod").manifests if m["kind"] == "Service"):
        assert all(isinstance(p["targetPort"], str) for p in svc["spec"]["ports"])


def test_import_ids_are_namespace_slash_name_and_name_for_cluster_scoped_objects(adopting):
    ids = {ident(r): r.options["importId"] for r in adopting if r.options.get("importId")}
    assert len(ids) == len(config.LIVE_OBJECTS)
    for (kind, namespace, name), import_id in ids.items():
        assert import_id == (name if kind in ("Namespace", "ClusterIssuer") else f"{namespace}/{name}")


@pytest.mark.parametrize("ref, expected", [
    ("Namespace/ai-qtrd", "ai-qtrd"),
    ("ClusterIssuer/letsencrypt-prod", "letsencrypt-prod"),
    ("Service/ai-qtrd-web", "ai-qtrd/ai-qtrd-web"),
    ("Certificate/gushen-lurus-cn-tls", "ai-qtrd/gushen-lurus-cn-tls"),
])
def test_an_import_id_is_the_name_of_a_cluster_scoped_object_else_namespace_slash_name(ref, expected):
    """``kubeProvider.Read`` looks the object up by ``parseFqName(id)`` (pulumi-kubernetes
    ``provider/pkg/provider/util.go``): an ID without ``/`` has no namespace, so a namespaced
    object given its bare name, or a cluster-wide one given a namespace, is not found."""
    assert adoption.import_id(ref, "ai-qtrd") == expected


@pytest.mark.parametrize("spec, expected", [
    ({"selector": {"app": "web"}, "ports": [{"name": "http", "port": 3000, "targetPort": "http"}]},
     {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 3000, "targetPort": 3000}]}),
    ({"clusterIP": "None", "ports": [{"name": "redis", "port": 6379, "targetPort": "redis"},
                                     {"name": "sentinel", "port": 26379, "targetPort": "sentinel"}]},
     {"clusterIP": "None", "ports": [{"name": "redis", "port": 6379, "targetPort": 6379},
                                     {"name": "sentinel", "port": 26379, "targetPort": 26379}]}),
    # A headless Service may declare no port (Kubernetes requires ports only with a clusterIP).
    ({"clusterIP": "None", "selector": {"app": "redis"}}, {"clusterIP": "None", "selector": {"app": "redis"}, "ports": []}),
])
def test_the_adoption_run_targets_each_service_port_by_its_number_and_keeps_the_rest(spec, expected):
    """kubectl's pods declare unnamed ports: a named targetPort would leave the Service without endpoints."""
    assert adoption.numeric_target_ports(spec) == expected


def test_the_adoption_run_passes_the_policy_pack(adopting, tmp_path):
    """`pulumi preview --policy-pack policies --policy-pack-config policies/config.prod.json` in the
    adoption run: numeric targetPorts are container ports too."""
    from gushen_infra.render import manifests

    path = tmp_path / "adopting.yaml"
    path.write_text(yaml.safe_dump_all(manifests(adopting), sort_keys=False))
    done = subprocess.run([sys.executable, "-m", "policies.check", str(path), "--config", "policies/config.prod.json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "mandatory" not in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("override, message", [
    ({"objects": ["deployment/ai-qtrd-web"]}, "gushen:adopt.objects.0: String should match pattern"),
    ({"enabled": "yes please"}, "gushen:adopt.enabled: not a boolean: want true or false"),
])
def test_bad_adoption_config_names_the_key_and_quotes_the_value(override, message):
    with pytest.raises(config.ConfigError, match=re.escape(message)):
        run_stack("prod", {"adopt": override, "network": {"enabled": False}})


def test_the_runbooks_state_delete_names_the_protected_statefulset(adopting):
    """docs/adoption.md's rollback: the URN it gives is the StatefulSet's, which is protected, so
    the command needs ``--force`` (pulumi ``pkg/cmd/pulumi/state/state_delete.go``)."""
    doc = (ROOT / "docs" / "adoption.md").read_text()
    commands = re.findall(r"`pulumi state delete ([^`]*)'(urn:[^']+)'`", doc)
    sts = next(r for r in adopting if r.type == "kubernetes:apps/v1:StatefulSet")
    assert commands == [("--force ", sts.urn)] and sts.options["protect"]


def _transform(adopting: adoption.Adoption, type_: str, props: Mapping[str, Any]):
    """What the engine gets back for one resource the program registers (None: left as registered)."""
    args = pulumi.ResourceTransformationArgs(None, type_, "x", dict(props), pulumi.ResourceOptions())  # type: ignore[arg-type]
    return adopting.transform(args)


WEB = {"kind": "Deployment", "metadata": {"name": "ai-qtrd-web", "annotations": {"team": "gushen"}}}
ADOPTING_WEB = config.Adopt(enabled=True, objects=["Deployment/ai-qtrd-web", "ConfigMap/typo"])


@pytest.mark.parametrize("type_, props", [
    # cert-manager's Helm release (tls.py): helm owns the chart's objects, adoption never imports or forces them.
    ("kubernetes:helm.sh/v3:Release", WEB),
    ("random:index/randomPassword:RandomPassword", WEB),
    # A child given its metadata as an args object rather than a dict: nothing to match on.
    ("kubernetes:apps/v1:Deployment", {"kind": "Deployment", "metadata": None}),
    ("kubernetes:apps/v1:Deployment", {"kind": None, "metadata": WEB["metadata"]}),
])
def test_adoption_leaves_helm_releases_other_providers_and_shapeless_objects_as_registered(type_, props):
    adopting = adoption.Adoption(ADOPTING_WEB, "ai-qtrd")
    assert _transform(adopting, type_, props) is None
    assert adopting.unmatched() == ["Deployment/ai-qtrd-web", "ConfigMap/typo"]


def test_an_adopted_object_is_imported_by_its_id_forced_and_counted_as_matched():
    adopting = adoption.Adoption(ADOPTING_WEB, "ai-qtrd")
    result = _transform(adopting, "kubernetes:apps/v1:Deployment", WEB)
    assert result.opts.import_ == "ai-qtrd/ai-qtrd-web"
    # The provider forces only on the exact value "true" (pulumi-kubernetes
    # provider/pkg/metadata/annotations.go `IsAnnotationTrue`, read by await.go for patchForce).
    assert result.props["metadata"]["annotations"] == {"team": "gushen", adoption.PATCH_FORCE: "true"}
    assert adopting.unmatched() == ["ConfigMap/typo"]


@pytest.mark.parametrize("adopt, expected", [
    (config.Adopt(enabled=True, objects=["ConfigMap/typo", "Service/ai-qtrd-web"]), ["ConfigMap/typo"]),
    # Outside the adoption run the list is not used: nothing is imported, so nothing to warn about.
    (config.Adopt(enabled=False, objects=["ConfigMap/typo", "Service/ai-qtrd-web"]), []),
])
def test_the_run_warns_about_each_adopt_objects_entry_the_program_does_not_create(adopt, expected, monkeypatch):
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", warnings.append)
    adopting = adoption.Adoption(adopt, "ai-qtrd")
    service = {"kind": "Service", "metadata": {"name": "ai-qtrd-web"}, "spec": {"ports": []}}
    result = _transform(adopting, "kubernetes:core/v1:Service", service)
    assert result.opts.ignore_changes == list(adoption.SERVICE_IGNORE)
    adopting.warn_unmatched()
    assert warnings == [f"gushen:adopt.objects: {ref!r} is not an object of this program; not imported" for ref in expected]
