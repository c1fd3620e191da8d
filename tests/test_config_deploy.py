"""What a real ``pulumi up`` needs beyond valid values: no placeholders (refused against an engine,
warned about in a preview, fine under the render's mocks), and a cluster named explicitly or a render
to YAML, never both."""

from __future__ import annotations

import json
import logging
import runpy
import sys

import pulumi
import pytest
from pulumi.runtime.mocks import MockMonitor

from gushen_infra import config, render
from gushen_infra.render import plain

from .conftest import ROOT, run_stack
from .test_config import SECRET_KEYS, problems_of, prod_raw


# --- placeholders: fine offline, refused by `pulumi up` ------------------------------------------

def test_the_prod_file_s_placeholders_are_found():
    assert config.placeholders(config.validate(prod_raw(), SECRET_KEYS)) == [
        ("postgres.host", "postgres.set-me.invalid"),
        ("backup.remote.repository", "s3:https://s3.set-me.invalid/gushen-backups"),
        ("backup.remote.cidr", "192.0.2.30/32"),
        ("network.postgres.cidr", "192.0.2.10/32"),
        ("tls.acmeEmail", "set-me@lurus.cn"),
    ]


@pytest.mark.parametrize(
    "value, expected",
    [
        ("set-me@lurus.cn", True), ("postgres.set-me.invalid", True), ("db.example.com", True),
        ("192.0.2.10/32", True), ("198.51.100.0/24", True), ("203.0.113.9/32", True), ("2001:db8::5/128", True),
        ("ops@lurus.cn", False), ("10.0.3.4/32", False), ("192.0.3.0/24", False), ("0.0.0.0/0", False),
        ("https://api.lurus.cn/v1", False), ("gushen.lurus.cn", False), ("examples.com", False),
        ("192.0.2.10/24", True), ("example.com", True), ("s3:https://s3.example.org/gushen-backups", True),
        ("sftp:backup@backup.invalid:/srv/restic", True), ("rest:https://restic.example.net:8000/", True),
    ],
)
def test_what_counts_as_a_placeholder(value, expected):
    assert config.is_placeholder(value) is expected


def test_a_placeholder_in_a_list_is_named_by_its_index_as_config_set_path_spells_it():
    raw = {**prod_raw(), "app": {**prod_raw()["app"], "corsOrigins": ["https://gushen.lurus.cn", "https://gushen.example.com"]}}
    assert "gushen:app.corsOrigins.1: 'https://gushen.example.com' is a placeholder; set the real value with " \
        "pulumi config set --path 'gushen:app.corsOrigins[1]' <value>" in config.placeholder_lines(config.validate(raw, SECRET_KEYS))


class EngineMonitor:
    """Stands in for the engine's gRPC monitor under ``pulumi up``/``preview``: the program sees no
    ``MockMonitor``, so it cannot tell this run from a real one (the calls still go to the mocks)."""

    def __init__(self, mocks):
        self._inner = MockMonitor(mocks)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def run_against_engine(preview: bool, overrides=None, mocks=None, environ=None, offline=False) -> tuple[list, list[str]]:
    """The program as the engine runs it (preview or update); what it registered and logged.

    With ``environ`` (pytest's monkeypatch) the config arrives as pulumi-language-python hands it to
    the program (sdk/python/cmd/pulumi-language-python/main.go, ``constructConfig`` and
    ``constructConfigSecretKeys``): ``PULUMI_CONFIG``, a JSON object (Go's encoding/json sorts a
    map's keys), and ``PULUMI_CONFIG_SECRET_KEYS``; otherwise as the mocks set it. ``offline``: under the
    render's own monitor (a ``MockMonitor``) instead."""
    mocks = mocks if mocks is not None else render.RecordingMocks()
    values, secret_keys = render.stack_config("prod", ROOT)
    for key, value in (overrides or {}).items():
        # As the CLI hands config over: strings as they are, structured values as JSON; None unsets.
        full = key if ":" in key else f"gushen:{key}"
        if value is None:
            values.pop(full, None)
        else:
            values[full] = value if isinstance(value, str) else json.dumps(value)
    logged: list[str] = []
    logger = logging.getLogger("test-engine")
    handler = logging.Handler()
    handler.emit = lambda record: logged.append(record.getMessage())  # type: ignore[method-assign]
    logger.addHandler(handler)
    pulumi.runtime.set_mocks(
        mocks, project=render.PROJECT, stack="prod", preview=preview, logger=logger,
        monitor=MockMonitor(mocks) if offline else EngineMonitor(mocks)
    )
    if environ is None:
        pulumi.runtime.set_all_config(values, secret_keys)
    else:
        environ.setenv("PULUMI_CONFIG", json.dumps(dict(sorted(values.items()))))
        environ.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(secret_keys))
        pulumi.runtime.set_all_config({}, [])

    @pulumi.runtime.test
    def run():
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    sys.path.insert(0, str(ROOT))
    try:
        run()
    finally:
        sys.path.remove(str(ROOT))
        logger.removeHandler(handler)
    return mocks.resources, logged


def test_pulumi_up_refuses_every_placeholder_and_registers_nothing():
    mocks = render.RecordingMocks()
    with pytest.raises(config.ConfigError) as info:
        run_against_engine(preview=False, mocks=mocks)
    assert info.value.problems == [
        "gushen:postgres.host: 'postgres.set-me.invalid' is a placeholder; set the real value with "
        "pulumi config set --path 'gushen:postgres.host' <value> (pulumi up refuses placeholders)",
        "gushen:backup.remote.repository: 's3:https://s3.set-me.invalid/gushen-backups' is a placeholder; set the "
        "real value with pulumi config set --path 'gushen:backup.remote.repository' <value> (pulumi up refuses "
        "placeholders)",
        "gushen:backup.remote.cidr: '192.0.2.30/32' is a placeholder; set the real value with "
        "pulumi config set --path 'gushen:backup.remote.cidr' <value> (pulumi up refuses placeholders)",
        "gushen:network.postgres.cidr: '192.0.2.10/32' is a placeholder; set the real value with "
        "pulumi config set --path 'gushen:network.postgres.cidr' <value> (pulumi up refuses placeholders)",
        "gushen:tls.acmeEmail: 'set-me@lurus.cn' is a placeholder; set the real value with "
        "pulumi config set --path 'gushen:tls.acmeEmail' <value> (pulumi up refuses placeholders)",
    ]
    assert mocks.resources == []


REAL = {
    "postgres": {**prod_raw()["postgres"], "host": "pg.internal.lurus.cn"},
    "network": {**prod_raw()["network"], "postgres": {"cidr": "10.0.0.5/32"}},
    "tls": {**prod_raw()["tls"], "acmeEmail": "ops@lurus.cn"},
    "backup": {**prod_raw()["backup"], "remote": {
        **prod_raw()["backup"]["remote"], "repository": "s3:https://s3.lurus.cn/gushen-backups", "cidr": "10.0.0.6/32",
    }},
}


def test_pulumi_up_deploys_once_the_real_values_are_set():
    resources, logged = run_against_engine(preview=False, overrides=REAL)
    assert len(resources) > 30 and not any("placeholder" in line for line in logged)


def test_pulumi_shows_every_problem_one_a_line_under_one_heading():
    """A RunError ends the program with its message alone, no traceback (pulumi/errors.py, ``RunError``):
    that text is what the operator reads."""
    overrides = {tier: {**prod_raw()[tier], "replicas": 0} for tier in ("web", "api")}
    with pytest.raises(config.ConfigError) as info:
        run_against_engine(preview=True, overrides=overrides)
    assert isinstance(info.value, pulumi.RunError)
    assert str(info.value) == (
        "invalid stack config:\n"
        "  gushen:web.replicas: Input should be greater than or equal to 1 (got 0)\n"
        "  gushen:api.replicas: Input should be greater than or equal to 1 (got 0)"
    )


def test_a_real_run_names_a_key_outside_the_namespace():
    with pytest.raises(config.ConfigError) as info:
        run_against_engine(preview=True, overrides={"domain": None, "gushn:domain": "gushen.lurus.cn"})
    assert info.value.problems == [
        "gushn:domain: outside the gushen: namespace, so the program never reads it; did you mean gushen:domain? "
        "(set it with pulumi config set 'gushen:domain' <value>, then pulumi config rm 'gushn:domain'; got 'gushen.lurus.cn')"
    ]


def test_with_backups_off_a_deploy_reads_no_restic_secret():
    unset = {key: None for key in config.BACKUP_REMOTE_SECRETS}
    resources, _ = run_against_engine(
        preview=False, overrides={**REAL, "backup": {**REAL["backup"], "enabled": False}, **unset})
    assert len(resources) > 30 and "backup-remote" not in {r.name for r in resources}


def test_each_secret_reaches_what_uses_it():
    """In adoption mode the live Secret's own values are kept (not new random ones); the off-site
    copy's credentials go to Secret backup-remote; the kubeconfig to both providers."""
    stack = run_stack("prod", {"adopt": {"enabled": True}, "network": {**prod_raw()["network"], "enabled": False}})
    fake = render.placeholder
    assert stack.get("Secret", "ai-qtrd-secrets")["stringData"] == {
        "DATABASE_PASSWORD": fake("databasePassword"), "DEEPSEEK_API_KEY": fake("deepseekApiKey"),
        "LURUS_API_KEY": fake("lurusApiKey"), "NEXTAUTH_SECRET": fake("nextauthSecret"),
        "REDIS_PASSWORD": fake("redisPassword"),
        "DATABASE_URL": f"postgresql://postgres:{fake('databasePassword')}@postgres.set-me.invalid:5432/gushen",
    }
    assert stack.get("Secret", "backup-remote")["stringData"] == {
        "RESTIC_PASSWORD": fake("resticPassword"), "AWS_ACCESS_KEY_ID": fake("resticAwsAccessKeyId"),
        "AWS_SECRET_ACCESS_KEY": fake("resticAwsSecretAccessKey"),
    }
    providers = [r for r in stack.resources if r.type == "pulumi:providers:kubernetes"]
    assert len(providers) == 2 and all(plain(r.inputs)["kubeconfig"] == fake("kubeconfig") for r in providers)


def test_the_config_as_the_language_host_hands_it_over_is_read_whole(monkeypatch):
    """Sorted, the secrets fall among the plain keys; they arrive marked secret only in the env."""
    resources, _ = run_against_engine(preview=False, overrides=REAL, environ=monkeypatch)
    assert len(resources) > 30


def test_pulumi_preview_warns_about_each_placeholder_and_goes_on():
    resources, logged = run_against_engine(preview=True)
    assert len(resources) > 30
    assert [line for line in logged if "placeholder" in line] == [
        "gushen:postgres.host: 'postgres.set-me.invalid' is a placeholder; set the real value with "
        "pulumi config set --path 'gushen:postgres.host' <value> (pulumi up will refuse it)",
        "gushen:backup.remote.repository: 's3:https://s3.set-me.invalid/gushen-backups' is a placeholder; set the "
        "real value with pulumi config set --path 'gushen:backup.remote.repository' <value> (pulumi up will refuse it)",
        "gushen:backup.remote.cidr: '192.0.2.30/32' is a placeholder; set the real value with "
        "pulumi config set --path 'gushen:backup.remote.cidr' <value> (pulumi up will refuse it)",
        "gushen:network.postgres.cidr: '192.0.2.10/32' is a placeholder; set the real value with "
        "pulumi config set --path 'gushen:network.postgres.cidr' <value> (pulumi up will refuse it)",
        "gushen:tls.acmeEmail: 'set-me@lurus.cn' is a placeholder; set the real value with "
        "pulumi config set --path 'gushen:tls.acmeEmail' <value> (pulumi up will refuse it)",
    ]


def test_an_update_that_only_writes_yaml_warns_instead():
    resources, logged = run_against_engine(
        preview=False, overrides={"renderYamlToDirectory": "rendered/yaml", "kubeconfig": None, "kubeContext": None}
    )
    assert len(resources) > 30
    assert len([line for line in logged if "is a placeholder" in line]) == 5


def test_the_offline_render_is_not_a_deploy():
    """Under the render's mocks (preview false, like an update) the placeholders pass, and are not
    logged by the program: the render lists them itself, once."""
    resources, logged = run_against_engine(preview=False, offline=True)
    assert len(resources) > 30 and not any("placeholder" in line for line in logged)


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
