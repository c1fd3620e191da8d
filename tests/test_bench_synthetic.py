"""bench/synthetic.py: the scale benchmarks' stacks are the real components, whole and consistent."""

from __future__ import annotations

import copy
from collections import Counter

import pytest

from bench import synthetic
from gushen_infra import render
from policies.base import Obj
from policies.catalog import evaluate

from .policy_baseline import prod_settings


@pytest.fixture(scope="module")
def three() -> list[render.Recorded]:
    return synthetic.run(3)


def test_each_copy_is_the_namespace_and_both_tiers_in_its_own_namespace(three):
    docs = render.manifests(three)
    assert len(docs) == 3 * synthetic.objects_per_copy()
    per_namespace = Counter(d["metadata"].get("namespace") or d["metadata"]["name"] for d in docs)
    assert sorted(per_namespace) == ["ai-qtrd-0000", "ai-qtrd-0001", "ai-qtrd-0002"]
    assert set(per_namespace.values()) == {synthetic.objects_per_copy()}
    kinds = Counter(d["kind"] for d in docs)
    assert {k: kinds[k] for k in ("Namespace", "Secret", "ConfigMap", "Deployment", "Service")} == {
        "Namespace": 3, "Secret": 3, "ConfigMap": 3, "Deployment": 6, "Service": 6,
    }
    components = Counter(r.type for r in three if r.type.startswith("gushen:"))
    assert components == {"gushen:core:AppNamespace": 3, "gushen:api:BackendService": 3, "gushen:web:FrontendService": 3}


def test_copies_pass_every_policy_but_node_capacity(three):
    # Every reference and selector resolves within its own namespace, so the benchmark times a
    # realistic stack; three environments' pods do not fit the nodes they are pinned to, and
    # that is all.
    violations = evaluate([Obj.from_manifest(d) for d in render.manifests(three)], prod_settings())
    assert {(v.policy, v.kind) for v in violations} == {("node-capacity", "Node")}


@pytest.mark.parametrize("objects, copies", [(1, 1), (100, 14), (1000, 143), (5000, 714)])
def test_copies_for_a_target_size(objects, copies):
    assert synthetic.copies_for(objects, per_copy=7) == copies


def test_repeat_gives_that_many_objects_each_copy_under_new_names(three):
    docs = render.manifests(three)
    before = copy.deepcopy(docs)
    objects = 2 * len(docs) + 5
    out = synthetic.repeat(docs, objects)
    assert len(out) == objects
    assert out[: len(docs)] == docs  # copy 0 is the render itself
    ids = [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in out]
    assert len(set(ids)) == objects
    copy_1 = out[len(docs): 2 * len(docs)]
    for original, copied in zip(docs, copy_1):
        meta, new = original["metadata"], copied["metadata"]
        if meta.get("namespace"):
            assert (new["namespace"], new["name"]) == (f"{meta['namespace']}-0001", meta["name"])
        else:
            assert new["name"] == f"{meta['name']}-0001"
        assert {k: v for k, v in copied.items() if k != "metadata"} == {
            k: v for k, v in original.items() if k != "metadata"
        }
    assert docs == before  # the render's own manifests are left alone
    with pytest.raises(ValueError, match="nothing to repeat"):
        synthetic.repeat([], 10)
