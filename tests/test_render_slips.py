"""The operator's slips, each refused or reported well by the render and the config: an unknown or
empty stack name, a YAML slip, memory in MB, a boolean that is not one, a failed render's stale
output, and the secrets a real deploy still needs."""

from __future__ import annotations

import pulumi
import pytest
import yaml
from pulumi.runtime import config as runtime_config

from gushen_infra import config, policy_config, render

from .conftest import ROOT
from .test_config import SECRET_KEYS, problems_of, prod_raw, with_change
from .test_render import assert_refused, cli, write_stack  # noqa: F401 (cli: the fixture)

PROD = (ROOT / "Pulumi.prod.yaml").read_text()
FOUND = ", ".join(policy_config.stacks())  # every Pulumi.<stack>.yaml: ci, dev, prod


def test_an_unknown_stack_lists_the_stacks_found(tmp_path, cli):
    assert_refused(cli("--stack", "staging", "--out", str(tmp_path / "out")),
                   f"render: --stack 'staging': no Pulumi.staging.yaml in {ROOT}; stacks found: {FOUND}; nothing was rendered")
    assert "prod" in FOUND.split(", ")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["", "  "])
def test_an_empty_stack_name_is_refused_not_read_as_prod(tmp_path, cli, name):
    assert_refused(cli("--stack", name, "--out", str(tmp_path / "out")),
                   f"render: --stack {name!r} is empty; name one of the stacks found in {ROOT}: {FOUND}")
    assert not (tmp_path / "out").exists()


def test_a_yaml_slip_names_the_stack_file_the_line_and_the_key(tmp_path, cli):
    lines = PROD.splitlines()
    at = lines.index("    replicas: 1")  # the web tier's: one space short of its siblings
    lines[at] = "   replicas: 1"
    result = cli("--config", str(write_stack(tmp_path, "\n".join(lines))), "--out", str(tmp_path / "out"))
    assert_refused(result, f"Pulumi.edited.yaml: line {at + 1}, column 4 (under gushen:web): while parsing a block "
                           "mapping: did not find expected key (pulumi refuses the file too)")
    assert "<unicode string>" not in result.stderr


def test_a_failed_render_removes_the_previous_output(tmp_path, cli):
    out = tmp_path / "out"
    assert cli("--out", str(out)).returncode == 0
    assert (out / "manifests.yaml").exists()
    bad = write_stack(tmp_path, PROD.replace("replicas: 1\n    port: 3000", "replicas: 0\n    port: 3000"))
    assert bad.read_text() != PROD
    result = cli("--config", str(bad), "--stack", "prod", "--out", str(out))
    assert_refused(result, f"nothing was written, and the previous {out / 'manifests.yaml'} was removed "
                           "(it is not this stack's render)")
    assert "gushen:web.replicas: Input should be greater than or equal to 1 (got 0)" in result.stderr
    assert not (out / "manifests.yaml").exists()


def secrets_report(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    head = next(i for i, line in enumerate(lines) if "that a real pulumi up of stack" in line)
    return [line.strip() for line in lines[head + 1:] if line.startswith("  ")]


def test_the_render_lists_every_secret_a_real_deploy_still_needs_with_its_command(tmp_path, cli):
    result = cli("--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "render: 7 secret(s) that a real pulumi up of stack 'prod' needs are not in its stack file" in result.stderr
    assert secrets_report(result.stderr) == [
        f"gushen:{key}: pulumi config set --secret --stack prod gushen:{key}{tail}" for key, tail in [
            ("deepseekApiKey", ""), ("databasePassword", ""), ("lurusApiKey", ""), ("kubeconfig", " < k3s.yaml"),
            ("resticPassword", ""), ("resticAwsAccessKeyId", ""), ("resticAwsSecretAccessKey", ""),
        ]
    ]


def test_a_secret_the_stack_file_holds_is_not_listed_and_an_sftp_repository_needs_its_key(tmp_path, cli):
    stack = yaml.safe_load(PROD)
    stack["config"]["gushen:deepseekApiKey"] = {"secure": "v1:AAAA"}
    remote = stack["config"]["gushen:backup"]["remote"]
    remote.update(repository="sftp://backup@backup.lurus.cn:22//srv/restic", sftpKnownHosts="backup.lurus.cn ssh-ed25519 AAAA")
    result = cli("--config", str(write_stack(tmp_path, yaml.safe_dump(stack))), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    keys = [line.split(":")[1] for line in secrets_report(result.stderr)]
    assert keys == ["databasePassword", "lurusApiKey", "kubeconfig", "resticPassword", "resticSftpKey"]
    assert "gushen:resticSftpKey: pulumi config set --secret --stack edited gushen:resticSftpKey < id_ed25519" in result.stderr


def test_required_secrets_are_what_validate_refuses_without():
    """The list the render prints is the one a deploy enforces: without any one of them, refused."""
    raw = prod_raw()  # every secret the render fills in, as placeholders
    needed = config.required_secrets(config.validate(raw, SECRET_KEYS))
    assert set(needed) == {"deepseekApiKey", "databasePassword", "lurusApiKey", "kubeconfig", "resticPassword",
                           "resticAwsAccessKeyId", "resticAwsSecretAccessKey"}
    for key in needed:
        problems = problems_of({k: v for k, v in raw.items() if k != key})
        assert any(p.startswith(f"gushen:{key}: required") for p in problems), (key, problems)


@pytest.mark.parametrize("change, needed", [
    ({}, ("kubeconfig", "resticPassword", "resticAwsAccessKeyId", "resticAwsSecretAccessKey")),
    ({"renderYamlToDirectory": "out/yaml", "kubeconfig": ..., "kubeContext": ...},
     ("resticPassword", "resticAwsAccessKeyId", "resticAwsSecretAccessKey")),
    ({"explicitCluster": False, "kubeconfig": ..., "kubeContext": ...},
     ("resticPassword", "resticAwsAccessKeyId", "resticAwsSecretAccessKey")),
    ({"backup.enabled": False}, ("kubeconfig",)),
    ({"backup.remote.enabled": False}, ("kubeconfig",)),
    ({"adopt": {"enabled": True}, "network.enabled": False, "redisPassword": "x", "nextauthSecret": "x"},
     ("kubeconfig", "resticPassword", "resticAwsAccessKeyId", "resticAwsSecretAccessKey", "redisPassword", "nextauthSecret")),
], ids=repr)
def test_the_secrets_a_deploy_needs_follow_the_config(change, needed):
    raw = prod_raw()
    for path, value in change.items():
        raw = with_change(path, value, raw)
    assert config.required_secrets(config.validate(raw, SECRET_KEYS)) == config.REQUIRED_SECRETS + needed


#: What the render offers for every stack: placeholders, so a stack file need not hold the secrets.
RENDER_SECRETS = ("deepseekApiKey", "databasePassword", "lurusApiKey",
                  "resticPassword", "resticAwsAccessKeyId", "resticAwsSecretAccessKey", "resticSftpKey")


@pytest.mark.parametrize("change, extra", [
    ({}, ("kubeconfig",)),
    ({"explicitCluster": "True"}, ("kubeconfig",)),
    ({"explicitCluster": None}, ()),
    ({"renderYamlToDirectory": "out/yaml"}, ()),
    ({"adopt": '{"enabled": true}'}, ("redisPassword", "nextauthSecret", "kubeconfig")),
    ({"adopt": '{"enabled": false}'}, ("kubeconfig",)),
    ({"adopt": None}, ("kubeconfig",)),
    # Malformed: validation names the key; the render must get that far.
    ({"adopt": "[true]"}, ("kubeconfig",)),
    ({"adopt": "{enabled: true"}, ("kubeconfig",)),
], ids=repr)
def test_the_render_fills_in_the_secrets_the_stack_file_requires(change, extra):
    """An explicit cluster (outside render mode) needs its kubeconfig, adoption the live Secret's values."""
    values, _ = render.stack_config("prod", ROOT)
    values.update({f"gushen:{key}": value for key, value in change.items()})
    values = {key: value for key, value in values.items() if value is not None}
    assert config.render_secrets(values) == RENDER_SECRETS + extra


@pytest.mark.parametrize("value, binary, decimal", [
    ("512MB", "512Mi", "512M"), ("1GB", "1Gi", "1G"), ("2gb", "2Gi", "2G"), ("64KB", "64Ki", "64k"),
])
def test_memory_in_mb_gets_the_kubernetes_spelling(value, binary, decimal):
    assert problems_of(with_change("web.resources.limits.memory", value)) == [
        f"gushen:web.resources.limits.memory: malformed quantity; Kubernetes spells it {binary!r} "
        f"(powers of 1024, what memory sizes use) or {decimal!r} (powers of 1000) (got {value!r})"
    ]


CANDIDATES = [True, False, "true", "True", "false", "False", "TRUE", "FALSE", "yes", "no", "on", "off", "1", "0", "",
              "t", "y"]


def pulumi_reads_as_bool(value) -> bool:
    """Whether the Pulumi SDK's own ``Config.get_bool`` accepts the value (pulumi/config.py ``_get_bool``)."""
    text = value if isinstance(value, str) else str(value).lower()  # a YAML bool reaches the CLI as true/false
    runtime_config.set_config("gushen:probe", text)
    try:
        pulumi.Config("gushen").get_bool("probe")
    except pulumi.ConfigTypeError:
        return False
    finally:
        runtime_config.CONFIG.get().pop("gushen:probe", None)
    return True


@pytest.mark.parametrize("value", CANDIDATES, ids=repr)
def test_booleans_are_what_pulumis_own_config_reads_as_booleans(value):
    problems: list[str] = []
    try:
        settings = config.validate(with_change("network.enabled", value), SECRET_KEYS)
    except config.ConfigError as exc:
        problems, settings = exc.problems, None
    assert (settings is not None) == pulumi_reads_as_bool(value), problems
    if settings is None:
        assert problems == [f"gushen:network.enabled: not a boolean: want true or false (Pulumi's config reads only "
                            f"true, True, false, False) (got {value!r})"]
    else:
        assert settings.network.enabled is (value in (True, "true", "True"))


def test_enabled_no_as_a_string_is_refused_naming_key_and_value():
    assert problems_of(with_change("backup.remote.enabled", "no")) == [
        "gushen:backup.remote.enabled: not a boolean: want true or false (Pulumi's config reads only true, True, "
        "false, False) (got 'no')"
    ]


def test_yes_in_the_stack_file_is_a_string_as_pulumi_reads_it(tmp_path, cli):
    """YAML 1.1 (PyYAML) reads ``yes`` as true; the CLI's YAML 1.2 parser hands the program the string."""
    text = PROD.replace("  gushen:network:\n    # Default deny in the namespace, then only the platform's connections "
                        "(NetworkIsolation).\n    enabled: true", "  gushen:network:\n    enabled: yes")
    assert text != PROD
    assert_refused(cli("--config", str(write_stack(tmp_path, text)), "--out", str(tmp_path / "out")),
                   "gushen:network.enabled: not a boolean: want true or false (Pulumi's config reads only true, True, "
                   "false, False) (got 'yes')")
