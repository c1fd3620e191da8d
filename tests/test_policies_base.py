"""policies/base.py: what the engine sends (secrets wrapped, numbers as floats, unknowns as sentinels)
becomes the plain manifest every validator reads, as ``policies.check`` reads it from a file."""

from types import MappingProxyType

import pytest

from policies.base import SECRET_SIG, UNKNOWN, Obj, get, mapping, plain, show

#: The engine's sentinel for a string not known until the update (a computed output in preview).
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@pytest.mark.parametrize("engine, manifest", [
    ({"spec": {"replicas": 2.0, "ratio": 0.5}}, {"spec": {"replicas": 2, "ratio": 0.5}}),
    ({"args": ["--port", 6379.0, "--appendonly", "yes"]}, {"args": ["--port", 6379, "--appendonly", "yes"]}),
    ({"stringData": {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "value": {"REDIS_PASSWORD": "s3cret"}}},
     {"stringData": {"REDIS_PASSWORD": "s3cret"}}),
    ({"data": {"value": "kept", "other": 1.0}}, {"data": {"value": "kept", "other": 1}}),
    ({"image": UNKNOWN_STRING, "name": "web"}, {"image": UNKNOWN, "name": "web"}),
    ({"env": [{"name": "HOST", "value": UNKNOWN_STRING}]}, {"env": [{"name": "HOST", "value": UNKNOWN}]}),
], ids=["integral-floats", "list-items", "secret-unwrapped", "value-key-is-data", "unknown-sentinel", "unknown-in-list"])
def test_engine_values_become_the_plain_manifest(engine, manifest):
    got = plain(engine)
    assert got == manifest
    # same types too: 2 == 2.0 and True == 1 in Python, not in a manifest (or a message)
    assert repr(got) == repr(manifest)


def test_a_value_unknown_in_preview_is_shown_as_unknown():
    """A message quoting a structure that holds a computed value says so, not a Python object address."""
    assert show({"cpu": UNKNOWN, "memory": "1Gi"}) == '{"cpu": "<unknown>", "memory": "1Gi"}'


@pytest.mark.parametrize("value, shown", [
    (None, "unset"),
    (True, "true"),
    (False, "false"),
    ("web", "'web'"),
    (3, "3"),
    (0.5, "0.5"),
    # keys sorted: the same manifest always gives the same message, whatever order it was written in
    ({"memory": "1Gi", "cpu": 1}, '{"cpu": 1, "memory": "1Gi"}'),
    (["a", None], '["a", null]'),
], ids=["null", "true", "false", "string", "int", "float", "map", "list"])
def test_a_message_shows_a_value_in_yaml_words(value, shown):
    assert show(value) == shown


MANIFEST = {"spec": {"containers": [{"name": "web"}], "args": "--port", "image": UNKNOWN}}


@pytest.mark.parametrize("data, path, value", [
    (MANIFEST, ("spec", "containers", 0, "name"), "web"),
    (MANIFEST, ("spec", "containers", 1, "name"), None),
    (MANIFEST, ("spec", "args", 0), None),
    (MANIFEST, ("spec", "containers", "name"), None),
    (MANIFEST, ("spec", "missing", "name"), None),
    (MANIFEST, ("spec", "image", "tag"), UNKNOWN),
    (MappingProxyType({"spec": MappingProxyType({"replicas": 2})}), ("spec", "replicas"), 2),
], ids=["path", "index-past-the-end", "index-into-a-string", "key-into-a-list", "missing-step", "below-an-unknown",
        "any-mapping"])
def test_a_validator_reads_a_field_or_none_wherever_the_manifest_breaks_off(data, path, value):
    """What every validator relies on to read a malformed manifest without raising (shape.py reports it)."""
    assert get(data, *path) == value


@pytest.mark.parametrize("value, read", [
    ({"app": "web"}, {"app": "web"}),
    (MappingProxyType({"app": "web"}), {"app": "web"}),
    (["app"], {}),
    (UNKNOWN, {}),
    (None, {}),
], ids=["dict", "any-mapping", "list", "unknown", "unset"])
def test_a_field_read_as_an_object_is_empty_unless_it_is_one(value, read):
    assert dict(mapping(value)) == read


DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ai-qtrd"}}


@pytest.mark.parametrize("manifest, urn, fallback, want", [
    (DEPLOYMENT, "urn:pulumi:prod::gushen::kubernetes:apps/v1:Deployment::web", "",
     Obj("Deployment", "web", "ai-qtrd", DEPLOYMENT, "apps/v1", "urn:pulumi:prod::gushen::kubernetes:apps/v1:Deployment::web")),
    ({**DEPLOYMENT, "metadata": {}}, "", "web-deployment", Obj("Deployment", "web-deployment", "", {**DEPLOYMENT, "metadata": {}}, "apps/v1")),
    ({**DEPLOYMENT, "metadata": {"name": UNKNOWN}}, "", "", Obj("Deployment", "<unnamed>", "", {**DEPLOYMENT, "metadata": {"name": UNKNOWN}}, "apps/v1")),
    ({**DEPLOYMENT, "metadata": {"name": "web", "namespace": UNKNOWN}}, "", "",
     Obj("Deployment", "web", None, {**DEPLOYMENT, "metadata": {"name": "web", "namespace": UNKNOWN}}, "apps/v1")),
    ({"kind": "Deployment", "metadata": {"name": "web"}}, "", "", None),
    ({"apiVersion": "apps/v1", "metadata": {"name": "web"}}, "", "", None),
    (["not", "a", "manifest"], "", "", None),
], ids=["named-with-urn", "unnamed-takes-the-resource-name", "unnamed", "namespace-unknown-in-preview",
        "no-apiVersion", "no-kind", "not-a-map"])
def test_an_object_is_read_from_its_manifest(manifest, urn, fallback, want):
    """The pack names what it reports on: the manifest's name, else the Pulumi resource's, else ``<unnamed>``."""
    args = {"urn": urn} if urn else {}
    args.update({"fallback_name": fallback} if fallback else {})
    assert Obj.from_manifest(manifest, **args) == want


def test_a_node_reported_on_is_cluster_scoped_with_no_manifest():
    """capacity.py reports on nodes, which are not objects of the stack."""
    node = Obj.synthetic("Node", "k3s-data")
    assert (node.ref, node.namespace, node.spec, node.labels, node.urn) == ("Node/k3s-data", "", {}, {}, "")
