"""policies/base.py: what the engine sends (secrets wrapped, numbers as floats, unknowns as sentinels)
becomes the plain manifest every validator reads, as ``policies.check`` reads it from a file."""

import pytest

from policies.base import SECRET_SIG, UNKNOWN, plain, show

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
