"""Config validation: every problem is reported at once, naming the key and quoting the value,
and the program registers nothing when the config is bad."""

from __future__ import annotations

import copy
import json

import pytest

from gushen_infra import config, render

from .conftest import ROOT


def prod_raw() -> dict:
    """The prod stack's ``gushen:`` config as the program receives it (decoded, prefix stripped)."""
    values, _ = render.stack_config("prod", ROOT)
    return {k.split(":", 1)[1]: json.loads(v) if v.startswith(("{", "[")) else v for k, v in values.items()}


SECRET_KEYS = set(config.SECRET_KEYS)


def with_change(path: str, value) -> dict:
    """Prod config with one (dotted) key set to ``value``; ``...`` deletes it."""
    raw = copy.deepcopy(prod_raw())
    *parents, leaf = path.split(".")
    node = raw
    for part in parents:
        node = node[part]
    if value is ...:
        del node[leaf]
    else:
        node[leaf] = value
    return raw


def problems_of(raw: dict, secret_keys=SECRET_KEYS) -> list[str]:
    with pytest.raises(config.ConfigError) as info:
        config.validate(raw, secret_keys)
    return info.value.problems


def test_prod_config_is_valid_and_typed():
    settings = config.validate(prod_raw(), SECRET_KEYS)
    assert settings.domain == "gushen.lurus.cn"
    assert settings.web.port == 3000 and settings.api.port == 8000
    assert settings.web.probes.liveness.initial_delay_seconds == 30
    assert settings.nodes.data == "cloud-ubuntu-1-16c32g"


BAD_CASES = [
    ("web.resources.requests.cpu", "500x", "gushen:web.resources.requests.cpu: malformed quantity (got '500x')"),
    ("api.resources.limits.memory", "2GB", "gushen:api.resources.limits.memory: malformed quantity (got '2GB')"),
    ("api.resources.requests.memory", "3Gi",
     "gushen:api.resources.requests.memory: request '3Gi' is above the limit '2Gi'"),
    ("web.resources.requests.cpu", "600m", "gushen:web.resources.requests.cpu: request '600m' is above the limit '500m'"),
    ("web.replicas", 0, "gushen:web.replicas: Input should be greater than or equal to 1 (got 0)"),
    ("nodes.web", "", "gushen:nodes.web: empty node name (got '')"),
    ("nodes.data", "   ", "gushen:nodes.data: empty node name (got '   ')"),
    ("web.image", "gushen-web", "gushen:web.image: image has no tag"),
    ("api.image", "lurus-ai-qtrd:latest", "gushen:api.image: image is tagged 'latest' (pin a version) (got 'lurus-ai-qtrd:latest')"),
    ("domain", "gushen_lurus.cn", "gushen:domain: invalid domain"),
    ("domain", "localhost", "gushen:domain: invalid domain"),
    ("api.port", 70000, "gushen:api.port: Input should be less than or equal to 65535 (got 70000)"),
    ("web.port", 0, "gushen:web.port: Input should be greater than or equal to 1 (got 0)"),
    ("postgres.port", "five", "gushen:postgres.port: "),
    ("webb", {"replicas": 2}, "gushen:webb: unknown key (did you mean 'web'?)"),
    ("web.replica", 2, "gushen:web.replica: unknown key"),
    ("namespace", "AI_QTRD", "gushen:namespace: invalid name"),
    ("app.corsOrigins", ["gushen.lurus.cn"], "gushen:app.corsOrigins.0: invalid URL"),
    ("web.probes.liveness.periodSeconds", 0, "gushen:web.probes.liveness.periodSeconds"),
    ("nodes.api", ..., "gushen:nodes.api: required key is missing"),
]


@pytest.mark.parametrize("path,value,expected", BAD_CASES, ids=[f"{c[0]}={c[1]!r}" for c in BAD_CASES])
def test_bad_value_is_reported_with_key_and_value(path, value, expected):
    problems = problems_of(with_change(path, value))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]
    if value is not ... and value != "" and not isinstance(value, (dict, list)):
        assert repr(value) in problems[0], "the message quotes the value"


def test_every_problem_is_reported_at_once():
    raw = with_change("web.resources.requests.cpu", "500x")
    raw["api"]["image"] = "lurus-ai-qtrd"
    raw["domian"] = "gushen.lurus.cn"
    problems = problems_of(raw)
    assert len(problems) == 3, problems
    assert any(p.startswith("gushen:domian: unknown key (did you mean 'domain'?)") for p in problems)


def test_secret_in_plain_text_is_refused():
    raw = {**prod_raw(), "deepseekApiKey": "sk-123"}
    problems = problems_of(raw, secret_keys={"databasePassword", "lurusApiKey", "kubeconfig"})
    assert problems == [
        "gushen:deepseekApiKey: must be a secret (pulumi config set --secret gushen:deepseekApiKey ...), not plain text"
    ]
    assert "sk-123" not in problems[0], "a secret value is never echoed"


def test_missing_secret_is_reported():
    raw = prod_raw()
    del raw["lurusApiKey"]
    assert problems_of(raw) == [
        "gushen:lurusApiKey: required secret is missing (pulumi config set --secret gushen:lurusApiKey ...)"
    ]


def test_structured_values_arrive_as_json_text_like_the_cli_sends_them():
    raw = {k: v if isinstance(v, str) else json.dumps(v) for k, v in prod_raw().items()}
    assert config.validate(raw, SECRET_KEYS).web.resources.limits.memory == "512Mi"


def test_bad_config_stops_the_program_before_any_resource_is_registered():
    mocks = render.RecordingMocks()
    with pytest.raises(config.ConfigError) as info:
        render.run_program("prod", ROOT, {"web": {**prod_raw()["web"], "replicas": 0}}, mocks=mocks)
    assert info.value.problems == ["gushen:web.replicas: Input should be greater than or equal to 1 (got 0)"]
    assert mocks.resources == []


def test_render_mode_with_a_kubeconfig_is_refused_naming_both_keys():
    raw = {**prod_raw(), "renderYamlToDirectory": "out/yaml"}
    del raw["kubeContext"]
    (problem,) = problems_of(raw)
    assert problem.startswith("gushen:kubeconfig: not allowed together with gushen:renderYamlToDirectory ('out/yaml')")


def test_render_mode_with_a_context_is_refused():
    raw = {**prod_raw(), "renderYamlToDirectory": "out/yaml"}
    del raw["kubeconfig"]
    assert problems_of(raw) == [
        "gushen:kubeContext: not allowed together with gushen:renderYamlToDirectory ('out/yaml'): the provider "
        "refuses the pair; unset one of them"
    ]


def test_an_explicit_cluster_stack_needs_its_kubeconfig_and_context():
    raw = prod_raw()
    del raw["kubeconfig"], raw["kubeContext"]
    problems = problems_of(raw)
    assert [p.split(":", 2)[1] for p in problems] == ["kubeconfig", "kubeContext"], problems
    assert "never falls back to KUBECONFIG" in problems[0]


def test_render_mode_needs_no_kubeconfig_even_for_an_explicit_cluster_stack():
    raw = {**prod_raw(), "renderYamlToDirectory": "out/yaml"}
    del raw["kubeconfig"], raw["kubeContext"]
    assert config.validate(raw, SECRET_KEYS).render_yaml_to_directory == "out/yaml"


def test_the_dev_stack_may_use_the_ambient_kubeconfig():
    values, secret_keys = render.stack_config("dev", ROOT)
    assert "gushen:kubeconfig" not in values
    raw = {k.split(":", 1)[1]: v for k, v in values.items()}
    assert config.validate(raw, {k.split(":", 1)[1] for k in secret_keys}).explicit_cluster is False
