"""The adoption run (docs/adoption.md) against objects the real kubectl applied, on a real
kube-apiserver: its preview and its update, as pulumi-kubernetes sends them (tests/kube/provider.py).

The preview of an imported object is ``ssaUpdate`` with ``c.Preview``: ``fixCSAFieldManagers``
returns early (``provider/pkg/await/await.go``), so kubectl's fields are still kubectl's, and the
dry-run apply conflicts on every field kubectl set to another value unless ``patchForce`` forces;
``patchForce`` in a preview forces only for a live client-side manager of the provider itself.
"""

from __future__ import annotations

import dataclasses
import json
import secrets

import pytest
from kubernetes.dynamic.exceptions import ConflictError

from gushen_infra import config
from gushen_infra.render import ROOT, run_program

from . import engine_model as em

from .kube.live import adoption_overrides, apply_live, imported, kept_secrets, live_documents, render  # noqa: F401

pytestmark = pytest.mark.kube

KUBECTL_CSA = "kubectl-client-side-apply"


def ref(obj) -> str:
    return f"{obj.manifest['kind']}/{obj.manifest['metadata']['name']}"


def managers(live: dict) -> set[str]:
    return {m["manager"] for m in live["metadata"].get("managedFields") or [] if not m.get("subresource")}


@pytest.mark.parametrize("defaulted", [False, True], ids=["spec-fixture", "defaulted-fields"])
def test_adoption_run_previews_and_updates_every_imported_object(kube, kept_secrets, defaulted):  # noqa: F811
    ns = f"adopt-{secrets.token_hex(3)}"
    apply_live(kube.kubeconfig, live_documents(ns, defaulted))
    objects = render(adoption_overrides(ns))
    ours = imported(objects)
    engine = kube.engine()
    try:
        assert len(ours) == len(config.LIVE_OBJECTS)
        live = {o.key: engine.provider(o).get(o.manifest) for o in ours}
        # kubectl 1.37's client-side apply names its manager so: fixCSAFieldManagers' "kubectl"
        # entry matches it by prefix (fluxcd ssa matchFieldManager), in the update only.
        assert all(KUBECTL_CSA in managers(v) for v in live.values())
        engine.state.update(live)  # ImportStep: the live object is read into the state

        # `pulumi preview` (and the preview `pulumi up` runs first): every imported object's update dry-run.
        conflicts = {}
        for obj in ours:
            try:
                engine.up([obj], preview=True)
            except ConflictError as e:
                conflicts[ref(obj)] = json.loads(e.body)["message"]
        assert not conflicts, "\n".join(f"{k}: {v}" for k, v in conflicts.items())

        # `pulumi up`: the same updates for real; kubectl owns nothing afterwards, and its leftovers are gone.
        engine.up(ours)
        after = {o.key: engine.provider(o).get(o.manifest) for o in ours}
        assert {ref(o): sorted(m for m in managers(after[o.key]) if m.startswith("kubectl")) for o in ours} == \
            {ref(o): [] for o in ours}
        web = next(after[o.key] for o in ours if ref(o) == "Deployment/ai-qtrd-web")
        assert all("envFrom" not in c for c in web["spec"]["template"]["spec"]["containers"])
    finally:
        kube.clean(objects)


@pytest.mark.parametrize("defaulted", [False, True], ids=["spec-fixture", "defaulted-fields"])
def test_the_models_preview_conflicts_are_the_servers(kube, kept_secrets, defaulted):  # noqa: F811
    """tests/engine_model.py's preview-only conflicts (``plan(..., preview=True)``) against the
    server's, with ``enablePatchForce`` off (as before adoption.provider_settings): the same objects."""
    ns = f"adopt-{secrets.token_hex(3)}"
    apply_live(kube.kubeconfig, live_documents(ns, defaulted))
    overrides = adoption_overrides(ns)
    off = {"enablePatchForce": "false"}
    objects = [dataclasses.replace(o, provider_inputs={**o.provider_inputs, **off}) for o in render(overrides)]
    recorded = [dataclasses.replace(r, inputs={**r.inputs, **off}) if r.type == em.PROVIDER_TYPE else r
                for r in run_program("prod", ROOT, overrides)]
    engine = kube.engine()
    try:
        ours = imported(objects)
        live = {o.key: engine.provider(o).get(o.manifest) for o in ours}
        engine.state.update(live)
        server = set()
        for obj in ours:
            try:
                engine.up([obj], preview=True)
            except ConflictError:
                server.add(ref(obj))
        by_ident = {(o.manifest["kind"], o.key[2], o.key[3]): live[o.key] for o in ours}
        steps = em.plan(None, recorded, live=by_ident, preview=True)
        model = {f"{s.kind}/{s.name}" for s in steps.values() if s.op == em.FAIL}
        assert server and model == server
    finally:
        kube.clean(objects)
