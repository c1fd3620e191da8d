"""How keys and values arrive from the engine: a key outside the ``gushen:`` namespace or flattened
by a missing ``--path`` is named with the command that fixes it, beside every other problem
(``config.loading._outside``); a string value is read as typed (``_decode``)."""

from __future__ import annotations

import pytest

from gushen_infra import config

from .test_config import SECRET_KEYS, problems_of, prod_raw, with_change


@pytest.mark.parametrize("namespace", ["gushn", "gushen-infra", "Gushen"])
def test_a_key_outside_the_namespace_is_named_instead_of_missing(namespace):
    raw = prod_raw()
    value = raw.pop("domain")
    other = {f"{namespace}:domain": value, "kubernetes:context": "default", "pulumi:disable-default-providers": '["*"]'}
    with pytest.raises(config.ConfigError) as info:
        config.validate(raw, SECRET_KEYS, other)
    assert info.value.problems == [
        f"{namespace}:domain: outside the gushen: namespace, so the program never reads it; did you mean "
        f"gushen:domain? (set it with pulumi config set 'gushen:domain' <value>, then pulumi config rm "
        f"'{namespace}:domain'; got 'gushen.lurus.cn')"
    ]


def test_any_key_in_a_namespace_close_to_gushen_is_named_even_one_the_program_does_not_know():
    with pytest.raises(config.ConfigError) as info:
        config.validate(prod_raw(), SECRET_KEYS, {"gushen-prod:colour": "blue", "kubernetes:enableServerSideApply": "true"})
    assert info.value.problems == [
        "gushen-prod:colour: outside the gushen: namespace, so the program never reads it; did you mean "
        "gushen:colour? (set it with pulumi config set 'gushen:colour' <value>, then pulumi config rm "
        "'gushen-prod:colour'; got 'blue')"
    ]


def test_a_program_key_under_the_stack_name_is_named_beside_the_bad_gushen_value():
    """``pulumi config set prod:web.replicas 3`` (the stack's name, far from gushen, but ``web`` is
    ours) while gushen:web.replicas is bad: both are told, the one does not hide the other."""
    with pytest.raises(config.ConfigError) as info:
        config.validate(with_change("web.replicas", 0), SECRET_KEYS, {"prod:web.replicas": "3"})
    assert info.value.problems == [
        "prod:web.replicas: outside the gushen: namespace, so the program never reads it; did you mean "
        "gushen:web.replicas? (set it with pulumi config set --path 'gushen:web.replicas' <value>, then "
        "pulumi config rm 'prod:web.replicas'; got 3)",
        "gushen:web.replicas: Input should be greater than or equal to 1 (got 0)",
    ]


@pytest.mark.parametrize("typed", ["null", '"gushen.lurus.cn"'])
def test_a_string_value_is_read_as_typed_not_as_json_null_or_a_quoted_string(typed):
    """Only objects, lists, numbers and booleans arrive as JSON text (``_decode``)."""
    assert problems_of(with_change("domain", typed)) == [
        f"gushen:domain: invalid domain (want a lower-case DNS name such as gushen.lurus.cn) (got {typed!r})"
    ]


def test_keys_of_other_programs_namespaces_are_left_alone():
    assert config.validate(prod_raw(), SECRET_KEYS, {"kubernetes:context": "k3s", "aws:region": "x"}).domain


def test_a_flat_dotted_key_points_at_config_set_path():
    raw = {**prod_raw(), "web.replicas": "2"}
    assert problems_of(raw) == [
        "gushen:web.replicas: one flat key named 'web.replicas', not a nested one: set it with "
        "pulumi config set --path 'gushen:web.replicas' <value> and remove this one "
        "(pulumi config rm 'gushen:web.replicas'); got 2"
    ]


def test_a_flat_key_among_sorted_keys_is_the_only_problem():
    """The engine hands the keys over sorted (tests/test_config_deploy.py, the language host): the keys
    after a flat one, and after each secret, are read too."""
    assert problems_of(dict(sorted({**prod_raw(), "backup.enabled": "true"}.items()))) == [
        "gushen:backup.enabled: one flat key named 'backup.enabled', not a nested one: set it with pulumi config "
        "set --path 'gushen:backup.enabled' <value> and remove this one (pulumi config rm 'gushen:backup.enabled'); got True"
    ]


def test_a_stack_whose_every_key_is_outside_the_namespace_is_told_that_not_that_it_is_empty():
    with pytest.raises(config.ConfigError) as info:
        config.validate({}, SECRET_KEYS, {"gushn:domain": "gushen.lurus.cn"})
    assert info.value.problems == [
        "gushn:domain: outside the gushen: namespace, so the program never reads it; did you mean gushen:domain? "
        "(set it with pulumi config set 'gushen:domain' <value>, then pulumi config rm 'gushn:domain'; got 'gushen.lurus.cn')"
    ]
