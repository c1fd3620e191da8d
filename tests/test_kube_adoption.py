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

from .kube.live import adoption_overrides, apply_live, imported, live_documents, render

pytestmark = pytest.mark.kube

KUBECTL_CSA = "kubectl-client-side-apply"


def ref(obj) -> str:
    return f"{obj.manifest['kind']}/{obj.manifest['metadata']['name']}"


def managers(live: dict) -> set[str]:
    return {m["manager"] for m in live["metadata"].get("managedFields") or [] if not m.get("subresource")}


def preview_conflicts(engine, objects) -> dict[str, str]:
    """Each object's update dry-run (``pulumi preview``); the server's conflict messages by ``Kind/name``."""
    conflicts = {}
    for obj in objects:
        try:
            engine.up([obj], preview=True)
        except ConflictError as e:
            conflicts[ref(obj)] = json.loads(e.body)["message"]
    return conflicts


@pytest.mark.parametrize("defaulted", [False, True], ids=["spec-fixture", "defaulted-fields"])
def test_adoption_run_previews_and_updates_every_imported_object(kube, defaulted):
    ns = f"adopt-{secrets.token_hex(3)}"
    apply_live(kube.kubeconfig, live_documents(ns, defaulted))
    overrides = adoption_overrides(ns)
    objects = render(overrides)
    ours = imported(objects)
    engine = kube.engine()
    try:
        assert len(ours) == len(config.LIVE_OBJECTS)
        live = {o.key: engine.provider(o).get(o.manifest) for o in ours}
        # kubectl 1.37's client-side apply names its manager so: fixCSAFieldManagers' "kubectl"
        # entry matches it by prefix (fluxcd ssa matchFieldManager), in the update only.
        assert all(KUBECTL_CSA in managers(v) for v in live.values())
        engine.state.update(live)  # ImportStep: the live object is read into the state

        # Without enablePatchForce the preview conflicts with kubectl's fields, on the objects
        # tests/engine_model.py's preview rule names (plan(..., preview=True)).
        off = {"enablePatchForce": "false"}
        engine.providers.clear()  # configured anew (the engine caches one provider per name)
        unforced = preview_conflicts(engine, [dataclasses.replace(o, provider_inputs={**o.provider_inputs, **off})
                                              for o in ours])
        engine.providers.clear()
        recorded = [dataclasses.replace(r, inputs={**r.inputs, **off}) if r.type == em.PROVIDER_TYPE else r
                    for r in run_program("prod", ROOT, overrides)]
        steps = em.plan(None, recorded, live={(o.manifest["kind"], o.key[2], o.key[3]): live[o.key] for o in ours},
                        preview=True)
        assert unforced and {f"{s.kind}/{s.name}" for s in steps.values() if s.op == em.FAIL} == set(unforced)

        # `pulumi preview` (and the preview `pulumi up` runs first) as the program sets it: no conflict.
        conflicts = preview_conflicts(engine, ours)
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
