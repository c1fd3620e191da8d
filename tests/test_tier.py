"""The shared HTTP tier: autoscaling and disruption budgets for web and api (spec 8.3, 15.3)."""

from __future__ import annotations

import copy

import pytest

from gushen_infra import config
from policies.base import Obj
from policies.catalog import evaluate

from .conftest import run_stack
from .kube_validation import manifest_problems
from .policy_baseline import prod_settings
from .test_config import prod_raw, problems_of, with_change


def tier_with(name: str, **changes) -> dict:
    tier = copy.deepcopy(prod_raw()[name])
    for key, value in changes.items():
        tier[key] = value
    return tier


def scaling(enabled=True, lo=2, hi=3, cpu=70) -> dict:
    return {"enabled": enabled, "minReplicas": lo, "maxReplicas": hi, "cpuUtilization": cpu}


def mandatory(stack) -> list:
    return [v for v in evaluate([Obj.from_manifest(m) for m in stack.manifests], prod_settings()) if v.enforcement == "mandatory"]


def test_prod_runs_fixed_replicas_without_hpa_or_pdb(prod):
    assert prod.all("HorizontalPodAutoscaler") == []
    assert prod.get("Deployment", "ai-qtrd-web")["spec"]["replicas"] == 1
    budgets = {m["metadata"]["name"] for m in prod.all("PodDisruptionBudget")}
    assert not budgets & {"ai-qtrd-web", "ai-qtrd-api"}, "one replica: a budget would block every drain"


def test_autoscaling_creates_the_spec_hpa_and_leaves_replicas_to_it():
    stack = run_stack("prod", {"web": tier_with("web", autoscaling=scaling(lo=2, hi=5)),
                               "api": tier_with("api", autoscaling=scaling(lo=1, hi=5))})
    web = stack.get("HorizontalPodAutoscaler", "ai-qtrd-web-hpa")["spec"]
    assert web["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ai-qtrd-web"}
    assert (web["minReplicas"], web["maxReplicas"]) == (2, 5)
    assert web["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    assert stack.get("HorizontalPodAutoscaler", "ai-qtrd-api-hpa")["spec"]["minReplicas"] == 1
    for name in ("ai-qtrd-web", "ai-qtrd-api"):
        assert "replicas" not in stack.get("Deployment", name)["spec"], "SSA would fight the HPA"
    # web is pinned to its node: no budget (it would block the node's drain, tests/test_drain.py);
    # api runs one pod at the HPA's minimum: none either.
    assert {m["metadata"]["name"] for m in stack.all("PodDisruptionBudget")} & {"ai-qtrd-web", "ai-qtrd-api"} == set()


def test_more_than_one_fixed_replica_gets_a_budget():
    stack = run_stack("prod", {"api": tier_with("api", replicas=2)})
    pdb = stack.get("PodDisruptionBudget", "ai-qtrd-api")["spec"]
    assert pdb["selector"]["matchLabels"] == stack.get("Deployment", "ai-qtrd-api")["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("replicas, autoscaling, budget", [
    (1, scaling(lo=2, hi=3), True),   # the HPA never goes below two pods: one may go
    (2, scaling(lo=1, hi=3), False),  # the HPA may run one pod: a budget would block every drain
    (2, None, True),
    (1, None, False),
])
def test_an_autoscaled_tier_gets_a_budget_when_its_minimum_is_above_one(replicas, autoscaling, budget):
    """The fixed count is ignored while the HPA owns the replicas (config.Tier.replicas)."""
    stack = run_stack("prod", {"api": tier_with("api", replicas=replicas, autoscaling=autoscaling)})
    assert ("ai-qtrd-api" in {m["metadata"]["name"] for m in stack.all("PodDisruptionBudget")}) is budget


def test_the_specs_hpa_maxima_overflow_the_nodes_and_the_policy_pack_says_so():
    spec_values = run_stack("prod", {"web": tier_with("web", autoscaling=scaling(lo=2, hi=5)),
                                     "api": tier_with("api", autoscaling=scaling(lo=1, hi=5))})
    flagged = {(v.policy, f"{v.kind}/{v.name}") for v in mandatory(spec_values)}
    assert flagged == {("node-capacity", "Node/cloud-ubuntu-3-2c2g"), ("node-capacity", "Node/cloud-ubuntu-2-4c8g")}
    fitting = run_stack("prod", {"web": tier_with("web", autoscaling=scaling(lo=2, hi=3)),
                                 "api": tier_with("api", autoscaling=scaling(lo=1, hi=3))})
    assert mandatory(fitting) == []


def test_min_above_max_is_refused():
    problems = problems_of(with_change("web.autoscaling", scaling(lo=4, hi=3)), set(config.SECRET_KEYS))
    assert problems == ["gushen:web.autoscaling.minReplicas: 4 is above maxReplicas 3"]


# --- what the images write under a read-only root filesystem -------------------------------------


def pod_of(stack, name: str) -> dict:
    return stack.get("Deployment", name)["spec"]["template"]["spec"]


def mounts(container: dict) -> dict[str, str]:
    return {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}


def test_each_tier_gets_a_writable_home(prod):
    for name in ("ai-qtrd-web", "ai-qtrd-api"):
        pod = pod_of(prod, name)
        (main,) = pod["containers"]
        assert {"name": "HOME", "value": "/home/app"} in main["env"], name
        volume = mounts(main)["/home/app"]
        assert {"name": volume, "emptyDir": {}} in pod["volumes"], name
        assert main["securityContext"]["readOnlyRootFilesystem"] is True


def test_the_web_tier_writes_its_caches_and_regenerated_pages(prod):
    pod = pod_of(prod, "ai-qtrd-web")
    (main,) = pod["containers"]
    assert {"/tmp", "/app/.next/cache", "/app/.next/server"} <= set(mounts(main))
    # .next/server holds the built pages: its writable copy starts as the image's.
    (seed,) = pod["initContainers"]
    assert seed["image"] == main["image"]
    volume = mounts(main)["/app/.next/server"]
    assert mounts(seed) == {f"/seed/{volume}": volume}
    assert seed["command"] == ["sh", "-c", f"cp -a /app/.next/server/. /seed/{volume}/"]
    assert not {"lifecycle", "livenessProbe", "readinessProbe"} & set(seed), "an init container has none"
    assert seed["securityContext"]["readOnlyRootFilesystem"] is True


def test_the_api_has_no_seeded_paths(prod):
    pod = pod_of(prod, "ai-qtrd-api")
    assert "initContainers" not in pod
    assert set(mounts(pod["containers"][0])) == {"/tmp", "/home/app"}


def test_home_and_writable_paths_are_configurable():
    stack = run_stack("prod", {"api": tier_with("api", home="/srv/home", writablePaths=["/tmp", "/var/cache/app"],
                                                seededPaths=["/app/static"])})
    pod = pod_of(stack, "ai-qtrd-api")
    (main,) = pod["containers"]
    assert {"name": "HOME", "value": "/srv/home"} in main["env"]
    assert {"/tmp", "/var/cache/app", "/srv/home", "/app/static"} == set(mounts(main))
    assert pod["initContainers"][0]["command"][-1].startswith("cp -a /app/static/. /seed/")


def both_tiers_with_budget_and_autoscaler():
    """web autoscaled (an HPA), api on two fixed replicas (a budget)."""
    return run_stack("prod", {"web": tier_with("web", autoscaling=scaling(lo=2, hi=3)), "api": tier_with("api", replicas=2)})


def recorded(stack, kind: str, name: str):
    (rec,) = [r for r in stack.resources if r.type.endswith(f":{kind}") and r.name == name]
    return rec


TIER_OBJECTS = [
    ("gushen:web:FrontendService", "core/v1", "Service", "ai-qtrd-web"),
    ("gushen:web:FrontendService", "apps/v1", "Deployment", "ai-qtrd-web"),
    ("gushen:web:FrontendService", "autoscaling/v2", "HorizontalPodAutoscaler", "ai-qtrd-web-hpa"),
    ("gushen:api:BackendService", "core/v1", "Service", "ai-qtrd-api"),
    ("gushen:api:BackendService", "apps/v1", "Deployment", "ai-qtrd-api"),
    ("gushen:api:BackendService", "policy/v1", "PodDisruptionBudget", "ai-qtrd-api"),
]


def test_a_tiers_objects_are_in_its_namespace_and_children_of_its_component():
    """A URN holds the parents' types: out of the component, an object would be a new resource
    (``pulumi up`` deletes the old one and creates it again: an outage), and it would miss the
    adoption transformation the component hands its children (a Service's clusterIP kept: adoption.py)."""
    stack = both_tiers_with_budget_and_autoscaler()
    for component, group, kind, name in TIER_OBJECTS:
        assert recorded(stack, kind, name).urn == f"urn:pulumi:prod::gushen-infra::{component}$kubernetes:{group}:{kind}::{name}"
        assert stack.get(kind, name)["metadata"]["namespace"] == "ai-qtrd", (kind, name)
    for name in ("ai-qtrd-web", "ai-qtrd-api"):
        assert recorded(stack, "Service", name).options["ignoreChanges"] == ["spec.clusterIP"]


def test_a_tiers_pods_start_after_what_they_read_and_its_budget_and_autoscaler_after_them():
    """The Deployment waits for the Secret and ConfigMap its env reads by name (else its first pods
    fail with CreateContainerConfigError); the HPA and budget name the Deployment."""
    stack = both_tiers_with_budget_and_autoscaler()
    secret, config_map = recorded(stack, "Secret", "ai-qtrd-secrets").urn, recorded(stack, "ConfigMap", "ai-qtrd-config").urn
    for name in ("ai-qtrd-web", "ai-qtrd-api"):
        assert {secret, config_map} <= set(recorded(stack, "Deployment", name).dependencies), name
    assert recorded(stack, "Deployment", "ai-qtrd-web").urn in recorded(stack, "HorizontalPodAutoscaler", "ai-qtrd-web-hpa").dependencies
    assert recorded(stack, "Deployment", "ai-qtrd-api").urn in recorded(stack, "PodDisruptionBudget", "ai-qtrd-api").dependencies


def test_a_tiers_objects_and_pods_show_its_image_tag_as_their_version():
    """``kubectl get -l app.kubernetes.io/version=v19`` finds what runs the new image."""
    stack = run_stack("prod", {"web": tier_with("web", image="gushen-web:v19")})
    dep = stack.get("Deployment", "ai-qtrd-web")
    for labels in (dep["metadata"]["labels"], dep["spec"]["template"]["metadata"]["labels"],
                   stack.get("Service", "ai-qtrd-web")["metadata"]["labels"]):
        assert labels["app.kubernetes.io/version"] == "v19"


@pytest.mark.parametrize("component, name, port", [
    ("gushen:web:FrontendService", "ai-qtrd-web", 3000),
    ("gushen:api:BackendService", "ai-qtrd-api", 8000),
])
def test_a_tier_component_keeps_its_service_port_pod_labels_and_url_as_its_outputs(prod, component, name, port):
    """The state keeps a component's ``register_outputs`` (``pulumi stack export``, the Console's
    resource page): where to dial the tier in the namespace, and the labels its pods carry."""
    (tier,) = prod.of_type(component)
    pod_labels = prod.get("Deployment", name)["spec"]["template"]["metadata"]["labels"]
    assert tier.outputs == {"service_name": name, "port": port, "labels": pod_labels, "url": f"http://{name}:{port}"}


def test_any_configured_writable_or_seeded_path_gives_a_pod_the_api_server_accepts():
    """A path is any absolute directory (config AbsPath): its volume's name must still be a
    DNS-1123 label, else ``pulumi up`` fails at the Deployment (tests/kube_validation.py)."""
    stack = run_stack("prod", {"web": tier_with("web", home="/srv/Home", writablePaths=["/tmp", "/var/cache/App.d"],
                                                seededPaths=["/app/.next/server", "/app/static_files", "/opt/v1.2"])})
    assert manifest_problems(stack.manifests) == []
    pod = pod_of(stack, "ai-qtrd-web")
    assert len({v["name"] for v in pod["volumes"]}) == 6, "one volume per directory"
    (seed,) = pod["initContainers"]
    assert seed["command"][-1].split(" && ")[1:] == [
        f"cp -a /app/static_files/. /seed/{mounts(pod['containers'][0])['/app/static_files']}/",
        f"cp -a /opt/v1.2/. /seed/{mounts(pod['containers'][0])['/opt/v1.2']}/",
    ]


@pytest.mark.parametrize("value", ["relative/home", "/", "/a/../etc"])
def test_a_bad_home_is_named(value):
    problems = problems_of(with_change("api.home", value), set(config.SECRET_KEYS))
    assert problems and problems[0].startswith("gushen:api.home: want an absolute directory path"), problems


def test_the_seed_command_copies_the_image_directory_with_its_dot_files(prod, tmp_path):
    """Run the init container's command on a stand-in tree (paths re-rooted under tmp_path)."""
    import subprocess

    (seed,) = pod_of(prod, "ai-qtrd-web")["initContainers"]
    built = tmp_path / "app/.next/server/app"
    built.mkdir(parents=True)
    (built / "index.html").write_text("built page")
    (tmp_path / "app/.next/server/.manifest").write_text("{}")
    target = tmp_path / seed["volumeMounts"][0]["mountPath"].lstrip("/")
    target.mkdir(parents=True)
    script = seed["command"][-1].replace(" /", f" {tmp_path}/")
    subprocess.run(["sh", "-c", script], check=True)
    assert (target / "app/index.html").read_text() == "built page"
    assert (target / ".manifest").exists()


def test_a_tiers_pods_roll_when_a_secret_or_config_key_they_read_changes_and_only_then():
    """The pod template carries digests of exactly what the tier reads (checksum/config,
    checksum/secret): a changed value gives a new template, so the Deployment rolls."""
    def digests(stack, name):
        annotations = stack.get("Deployment", name)["spec"]["template"]["metadata"]["annotations"]
        return annotations["checksum/config"], annotations["checksum/secret"]

    base = run_stack("prod")
    lurus_key = run_stack("prod", {"lurusApiKey": "another-key"})  # read by the web tier only
    assert digests(lurus_key, "ai-qtrd-web")[0] == digests(base, "ai-qtrd-web")[0]
    assert digests(lurus_key, "ai-qtrd-web")[1] != digests(base, "ai-qtrd-web")[1]
    assert digests(lurus_key, "ai-qtrd-api") == digests(base, "ai-qtrd-api")
