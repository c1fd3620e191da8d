"""Policy config (policies/config.py): defaults are the spec's rules, a stack's nodes come only from its
--policy-pack-config JSON (generated from its stack file), which overrides; bad values are named."""

from pathlib import Path

import pytest

from policies import config
from policies.catalog import RULES

from .policy_baseline import PROD_POLICY_CONFIG, with_prod

BY_NAME = {r.name: r for r in RULES}


def test_defaults_are_the_rules_levels_and_the_schema_defaults():
    settings = config.resolve(PROD_POLICY_CONFIG, RULES)
    for rule in RULES:
        assert settings[rule.name].enforcement == rule.enforcement
        given = PROD_POLICY_CONFIG.get(rule.name, {})
        assert settings[rule.name].values == {k: given.get(k, config.KEYS[k].get("default")) for k in rule.keys}


def test_the_pack_holds_no_node_of_any_stack():
    """A node's name and capacity live in the stack file only: renaming one never edits policies/."""
    assert "default" not in config.KEYS["nodes"] and "default" not in config.KEYS["allocatable"]
    names = set(PROD_POLICY_CONFIG["node-capacity"]["allocatable"]) | set(PROD_POLICY_CONFIG["node-placement"]["nodes"].values())
    pack = Path(config.__file__).parent
    for source in sorted(pack.glob("*.py")) + [pack / "PulumiPolicy.yaml"]:
        text = source.read_text()
        assert not [n for n in names if n in text], source


def test_all_then_policy_entry_like_the_cli():
    settings = config.resolve(with_prod({"all": "advisory", "node-capacity": {"enforcementLevel": "disabled"}}), RULES)
    assert settings["node-capacity"].enforcement == "disabled"
    assert {s.enforcement for n, s in settings.items() if n != "node-capacity"} == {"advisory"}


def test_a_key_overrides_its_default_and_keeps_the_others():
    settings = config.resolve(with_prod({"resource-caps": {"defaultCap": {"cpu": "2", "memory": "4Gi"}}}), RULES)
    assert settings["resource-caps"].values == {
        "caps": config.KEYS["caps"]["default"], "defaultCap": {"cpu": "2", "memory": "4Gi"},
    }
    assert settings["resource-caps"].enforcement == "mandatory"


KNOWN = ", ".join(sorted(BY_NAME))


@pytest.mark.parametrize("document, problems", [
    ({"node-placment": "advisory"}, [f"node-placment: unknown policy (known: {KNOWN})"]),
    ({"health-probes": "strict"},
     ['health-probes.enforcementLevel: must be one of advisory, mandatory, remediate, disabled (got "strict")']),
    ({"health-probes": {"exempt": ["x"]}},
     ['health-probes.exempt: unknown key for this policy (it reads: exemptContainers), value ["x"]']),
    ({"no-literal-secret-env": {"secretWord": "PIN"}},
     ['no-literal-secret-env.secretWord: unknown key for this policy '
      '(it reads: secretWords, allowedEnvNames, allowedValues), value "PIN"']),
    ({"image-tag-pinned": {"exemptContainers": []}},
     ["image-tag-pinned.exemptContainers: unknown key for this policy (it reads: nothing), value []"]),
    ({"resource-caps": {"defaultCap": {"cpu": "lots", "memory": "1Gi"}}},
     ['resource-caps.defaultCap.cpu: malformed value "lots"']),
    ({"resource-caps": {"defaultCap": {"cpu": "1"}}}, ["resource-caps.defaultCap.memory: required key is missing"]),
    # One-character node names are names; only the extra key is wrong.
    ({"node-placement": {"nodes": {"web": "a", "api": "b", "data": "c", "db": "d"}}},
     ['node-placement.nodes.db: unknown key (value "d")']),
    ({"node-placement": {"nodes": {"web": "", "api": "b", "data": "c"}}}, ["node-placement.nodes.web: must not be empty"]),
    ({"node-capacity": {"includePreferred": "yes"}}, ['node-capacity.includePreferred: expected boolean, got "yes"']),
    # A bad node, then a good one: the bad one is still reported.
    ({"node-capacity": {"allocatable": {"a": {"cpu": "lots", "memory": "1Gi"}, "b": {"cpu": "1", "memory": "1Gi"}}}},
     ['node-capacity.allocatable.a.cpu: malformed value "lots"']),
    ({"image-pull-never": {"pullPolicyExceptions": "redis"}},
     ['image-pull-never.pullPolicyExceptions: expected array, got "redis"']),
    ({"health-probes": {"exemptContainers": [1, "x"]}}, ["health-probes.exemptContainers[0]: expected string, got 1"]),
    ({"namespace-pod-security": {"podSecurity": {"enforce": "strict"}}},
     ['namespace-pod-security.podSecurity.enforce: must be one of privileged, baseline, restricted (got "strict")']),
    ({"all": {"enforcementLevel": "advisory", "nodes": {}}},
     ["all: only an enforcement level applies to every policy (got keys ['nodes'])"]),
    ({"health-probes": 3}, ["health-probes: must be an enforcement level or an object, got 3"]),
])
def test_bad_config_names_the_key_and_quotes_the_value(document, problems):
    with pytest.raises(config.PolicyConfigError) as exc:
        config.resolve(with_prod(document), RULES)
    assert exc.value.problems == problems


def test_all_as_an_object_with_only_a_level_sets_every_level():
    settings = config.resolve(with_prod({"all": {"enforcementLevel": "advisory"}}), RULES)
    assert {s.enforcement for s in settings.values()} == {"advisory"}


def test_a_level_given_with_the_values_is_no_config_key():
    """The engine may hand a policy its entry whole (``policies.pack`` reads it with ``values``)."""
    given = {"enforcementLevel": "advisory", "exemptContainers": ["x"]}
    assert config.values("health-probes", ["exemptContainers"], given) == {"exemptContainers": ["x"]}


@pytest.mark.parametrize("first", [{"nope": "advisory"}, {"health-probes": "strict"}, {"health-probes": 3}],
                         ids=["unknown-policy", "bad-level", "not-a-level-or-object"])
def test_every_problem_is_reported_at_once(first):
    """Whatever comes first in the document, every later entry is still checked."""
    document = {**first, **with_prod({"image-pull-never": {"pullPolicyExceptions": [1]}})}
    with pytest.raises(config.PolicyConfigError) as exc:
        config.resolve(document, RULES)
    assert exc.value.problems[1:] == ["image-pull-never.pullPolicyExceptions[0]: expected string, got 1"]
    assert len(exc.value.problems) == 2


def test_schema_defaults_validate_against_their_own_schema():
    for key, schema in config.KEYS.items():
        if "default" in schema:
            assert config.check_value(schema["default"], schema, key) == [], key
        assert schema["description"]


@pytest.mark.parametrize("document, problems", [
    ({"health-probes": {"exemptContainers": [], "extra": {"b": 1, "a": [2]}}},
     ['health-probes.extra: unknown key for this policy (it reads: exemptContainers), value {"a": [2], "b": 1}']),
    ({"health-probes": {"exemptContainers": "x" * 78}},
     [f'health-probes.exemptContainers: expected array, got "{"x" * 78}"']),
    ({"health-probes": {"exemptContainers": "x" * 79}},
     [f'health-probes.exemptContainers: expected array, got "{"x" * 76}...']),
], ids=["object-keys-sorted", "80-characters-whole", "longer-cut-at-80"])
def test_a_quoted_value_is_json_with_sorted_keys_cut_at_80_characters(document, problems):
    """The same value always reads the same, and one long value cannot flood the report."""
    with pytest.raises(config.PolicyConfigError) as exc:
        config.resolve(with_prod(document), RULES)
    assert exc.value.problems == problems


def test_an_uncaught_config_error_still_reads_one_problem_per_line():
    """Outside ``policies.check`` and the pack (a traceback, a caller's log), the error lists its problems."""
    with pytest.raises(config.PolicyConfigError) as exc:
        config.resolve(with_prod({"nope": "advisory", "health-probes": {"exemptContainers": [1]}}), RULES)
    assert str(exc.value) == (
        f"invalid policy config:\n  nope: unknown policy (known: {', '.join(sorted(BY_NAME))})\n"
        "  health-probes.exemptContainers[0]: expected string, got 1"
    )
