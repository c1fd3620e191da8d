"""policies/check.py's YAML loader: libyaml plus a shortcut for strings, lists and string-keyed
maps, which must give exactly ``yaml.safe_load``'s answer."""

from __future__ import annotations

import yaml

from policies import check

from .conftest import ROOT


def load_both(text: str) -> tuple[list, list]:
    return list(yaml.safe_load_all(text)), list(yaml.load_all(text, Loader=check._Loader))


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


def test_explicit_tags_and_non_string_keys_take_pyyaml_path():
    text = "a: !!str 123\nb: !!int '7'\nc: !!set {x, y}\n1: one\nnull: none\n"
    safe, fast = load_both(text)
    assert fast == safe
    assert fast[0]["a"] == "123" and fast[0]["b"] == 7 and fast[0][1] == "one" and fast[0][None] == "none"


def test_unhashable_keys_are_refused_alike():
    text = "? [1, 2]\n: list-as-key\n"
    for loader in (yaml.SafeLoader, check._Loader):
        try:
            yaml.load(text, Loader=loader)
        except yaml.constructor.ConstructorError as exc:
            assert "unhashable key" in str(exc)
            continue
        raise AssertionError(f"{loader.__name__} accepted a list as a key")


def test_unsafe_tags_are_still_refused():
    text = "!!python/object/apply:os.system ['true']\n"
    for loader in (yaml.SafeLoader, check._Loader):
        try:
            yaml.load(text, Loader=loader)
        except yaml.constructor.ConstructorError:
            continue
        raise AssertionError(f"{loader.__name__} constructed a python object")


def test_repository_yaml_files_load_alike():
    paths = [*ROOT.glob("Pulumi*.yaml"), *ROOT.glob("policies/*.yaml"), *ROOT.glob(".github/**/*.yml")]
    assert paths
    for path in paths:
        safe, fast = load_both(path.read_text())
        assert fast == safe, path
