"""policies/yamldocs.py: documents built from libyaml's events, which must be exactly
``yaml.safe_load_all``'s, and PyYAML's own answer (or error) for whatever the shortcut leaves to it."""

from __future__ import annotations

import pytest
import yaml

from gushen_infra import render
from policies import yamldocs

from .conftest import ROOT


def load_both(text: str) -> tuple[list, list]:
    return list(yaml.safe_load_all(text)), yamldocs.load_all(text)


def test_plain_scalars_keep_their_implicit_types():
    text = """
a: 1
b: "1"
c: 0x1f
d: 1.5
e: .inf
f: true
g: "true"
h: null
i: ~
j: ""
k: 2026-11-30
l: yes
m: 0o17
n: -0
o: [1, "1", on, off, 1e3]
"""
    safe, fast = load_both(text)
    assert fast == safe
    assert [type(v) for v in fast[0]["o"]] == [type(v) for v in safe[0]["o"]]


def test_repeated_texts_resolve_alike_wherever_they_appear():
    # the tag cache is keyed by text: a value seen first as a key, then as a value, and quoted
    text = "'8080': 8080\n8080: '8080'\nports: [8080, '8080', {8080: x}]\n"
    safe, fast = load_both(text)
    assert fast == safe
    assert list(fast[0]) == ["8080", 8080, "ports"]


def test_anchors_aliases_and_merge_keys():
    text = """
base: &base {cpu: 100m, memory: 64Mi}
limits: *base
list: &items [a, b]
again: *items
merged:
  <<: *base
  cpu: 200m
"""
    safe, fast = load_both(text)
    assert fast == safe
    # an alias is the very object its anchor built, as with PyYAML's constructor
    assert fast[0]["limits"] is fast[0]["base"] and fast[0]["again"] is fast[0]["list"]
    assert fast[0]["merged"] == {"cpu": "200m", "memory": "64Mi"}


@pytest.mark.parametrize("text, value", [
    ("a: !!str 123\n", {"a": "123"}),
    ("a: !!int '7'\n", {"a": 7}),
    ("a: !!float 1\n", {"a": 1.0}),
    ("a: ! 123\n", {"a": 123}),
    ("a: ! [x]\n", {"a": ["x"]}),
    ("a: !!set {x, y}\n", {"a": {"x", "y"}}),
    ("1: one\nnull: none\n", {1: "one", None: "none"}),
], ids=["str", "int", "float", "non-specific", "non-specific-list", "set", "non-string-keys"])
def test_explicit_tags_and_non_string_keys(text, value):
    """Each alone in its file (no other node sends the whole text to PyYAML): the tag decides the type."""
    safe, fast = load_both(text)
    assert fast == safe == [value]
    assert repr(fast) == repr(safe)  # 7 == 7.0 == True in Python, not in a manifest


def test_a_text_repeated_across_a_render_is_held_once():
    """A large render repeats the same labels, names and images: each distinct text is one object."""
    text = "a: {app: ai-qtrd-web}\nb: {app: ai-qtrd-web}\nc: [ai-qtrd-web]\n"
    [doc] = yamldocs.load_all(text)
    assert doc["a"]["app"] is doc["b"]["app"] is doc["c"][0]


def refusal(load, text: str) -> str:
    with pytest.raises(yaml.YAMLError) as caught:
        load(text)
    return str(caught.value)


@pytest.mark.parametrize("text, says", [
    ("? [1, 2]\n: list-as-key\n", "found unhashable key"),
    ("? {a: 1}\n: map-as-key\n", "found unhashable key"),
    ("!!python/object/apply:os.system ['true']\n", "could not determine a constructor"),
    ("a: *nowhere\n", "found undefined alias"),
    ("a: =\n", "could not determine a constructor"),
    ("a: [1, 2\nb: 3\n", "expected ',' or ']'"),
    ("a: 1\n b: 2\n", "mapping values are not allowed"),
    ("kind: Pod\n---\nkind: [\n", "did not find expected node content"),
])
def test_bad_yaml_is_refused_with_pyyamls_own_message(text, says):
    # the message (with its line and column) reaches the user through policies.check's InputError;
    # it is libyaml's wording, as before the shortcut (PyYAML's pure-Python parser words a few alike)
    expected = refusal(lambda t: list(yaml.load_all(t, Loader=yamldocs.SafeLoader)), text)
    assert says in expected
    assert refusal(yamldocs.load_all, text) == expected


def test_empty_documents_and_scalar_roots():
    text = "---\n---\nplain\n---\n- 1\n- {}\n...\n--- 'quoted'\n"
    safe, fast = load_both(text)
    assert fast == safe == [None, "plain", [1, {}], "quoted"]


def test_nesting_and_flow_style():
    text = "a: {b: [1, {c: [[], [x, {d: e}]]}], f: g}\nh: [{}, [], '', ~]\ni:\n- - - deep\n"
    safe, fast = load_both(text)
    assert fast == safe


def test_manifests_take_the_event_path(monkeypatch, prod):
    # the shortcut must cover what a render holds, or checking one costs PyYAML's full path
    text = yaml.dump_all(
        prod.manifests, Dumper=render.SafeDumper, sort_keys=False, default_flow_style=False, width=120)

    def pyyaml(*args, **kwargs):
        raise AssertionError("the render's manifests were handed to PyYAML's loader")

    monkeypatch.setattr(yaml, "load_all", pyyaml)
    assert yamldocs.load_all(text) == prod.manifests


def test_repository_yaml_files_load_alike():
    paths = [*ROOT.glob("Pulumi*.yaml"), *ROOT.glob("policies/*.yaml"), *ROOT.glob(".github/**/*.yml")]
    assert paths
    for path in paths:
        safe, fast = load_both(path.read_text())
        assert fast == safe, path
