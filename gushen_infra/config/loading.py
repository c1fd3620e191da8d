"""Reading the stack's config once: validation into settings, and the secrets as outputs."""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection, Mapping
from typing import Any

import pulumi
from pydantic import ValidationError

from . import keys
from .keys import BACKUP_REMOTE_SECRETS, KEPT_SECRETS, NAMESPACE, SECRET_KEYS
from .messages import SECRET_SHOWN, ConfigError, _format, _keys_of, _quote, _set_command
from .placeholders import placeholder_lines
from .settings import Secrets, Settings


def _decode(value: Any) -> Any:
    """Config values arrive as strings; structured ones and numbers as JSON text."""
    if not isinstance(value, str):
        return value
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, (dict, list, int, float, bool)) else value


def _outside(other: Mapping[str, Any], known: Collection[str]) -> dict[str, str]:
    """Keys in another namespace that were meant for ``gushen:`` (``gushn:domain``, ``gushen-infra:domain``).

    Other namespaces are legitimate (``kubernetes:``, ``pulumi:``): only a key this program knows, or a
    namespace close to ``gushen``, is reported. Returns ``{top-level key it stands for: message}``.
    """
    out = {}
    for full, value in other.items():
        namespace, _, name = full.partition(":")
        head = name.split(".")[0]
        if head in known or difflib.get_close_matches(namespace, [NAMESPACE]):
            out[head] = (
                f"{full}: outside the {NAMESPACE}: namespace, so the program never reads it; did you mean "
                f"{NAMESPACE}:{name}? (set it with {_set_command(name)}, then pulumi config rm '{full}'; "
                f"got {_quote(_decode(value))})"
            )
    return out


def validate(
    raw: Mapping[str, Any], secret_keys: Collection[str] = (), other: Mapping[str, Any] = {}
) -> Settings:
    """Validate the ``gushen:`` config (keys without the namespace prefix) into settings.

    ``secret_keys`` are the keys Pulumi holds as secrets; ``other`` is the config of every other
    namespace (``namespace:key``), checked for keys meant for this one. Raises
    :class:`ConfigError` with every problem found.
    """
    known = _keys_of(Settings) + list(SECRET_KEYS)
    problems: list[str] = []
    plain: dict[str, Any] = {}
    for key, value in raw.items():
        if key in SECRET_KEYS:
            if key not in secret_keys:
                problems.append(
                    f"{NAMESPACE}:{key}: must be a secret "
                    f"(pulumi config set --secret {NAMESPACE}:{key} ...), not plain text"
                )
            continue
        if "." in key and key.split(".")[0] in known:
            problems.append(
                f"{NAMESPACE}:{key}: one flat key named {key!r}, not a nested one: set it with "
                f"{_set_command(key)} and remove this one (pulumi config rm '{NAMESPACE}:{key}'); "
                f"got {SECRET_SHOWN if key in secret_keys else _quote(_decode(value))}"
            )
            continue
        plain[key] = _decode(value)
    misplaced = _outside(other, known)
    if not plain and not problems:
        raise ConfigError(list(misplaced.values()) or [
            f"{NAMESPACE}: no config at all in the {NAMESPACE}: namespace (an empty stack file, or one "
            f"without a `config:` section?); Pulumi.prod.yaml has every key"
        ])
    problems += misplaced.values()
    for key in keys.REQUIRED_SECRETS:
        if key not in raw and key not in misplaced:
            problems.append(
                f"{NAMESPACE}:{key}: required secret is missing "
                f"(pulumi config set --secret {NAMESPACE}:{key} ...)"
            )
    settings = None
    try:
        settings = Settings.model_validate(plain)
    except ValidationError as exc:
        problems += [
            _format(error, secret=error["loc"][0] in secret_keys) for error in exc.errors()
            if not (error["type"] == "missing" and len(error["loc"]) == 1 and error["loc"][0] in misplaced)
        ]
    if settings is not None:
        problems += settings.problems()
        problems += settings.cluster_problems("kubeconfig" in raw)
        remote = settings.backup.remote
        if settings.backup.enabled and remote.enabled:
            problems += [
                f"{NAMESPACE}:{key}: required secret for backup.remote ({remote.scheme or 'any'} repository) is missing "
                f"(pulumi config set --secret {NAMESPACE}:{key} ...)"
                for key in remote.secret_keys() if key not in raw
            ]
    if settings is not None and settings.adopt.enabled:
        problems += [
            f"{NAMESPACE}:{key}: required while adopt.enabled is true: the live Secret's value "
            f"(docs/adoption.md; pulumi config set --secret {NAMESPACE}:{key} ...)"
            for key in KEPT_SECRETS if key not in raw
        ]
    if problems:
        raise ConfigError(problems)
    assert settings is not None
    return settings


def offline() -> bool:
    """Running under Pulumi's mocks (the offline render, the tests), not against an engine."""
    from pulumi.runtime.mocks import MockMonitor
    from pulumi.runtime.settings import get_monitor

    return isinstance(get_monitor(), MockMonitor)


def deploying() -> bool:
    """A real ``pulumi up``: the engine is there and this is not a preview."""
    return not pulumi.runtime.is_dry_run() and not offline()


def split_namespace(config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``namespace:key`` config as (``gushen:`` keys without the prefix, every other key as is)."""
    prefix = f"{NAMESPACE}:"
    ours = {k[len(prefix):]: v for k, v in config.items() if k.startswith(prefix)}
    return ours, {k: v for k, v in config.items() if not k.startswith(prefix)}


def _raw_pulumi_config() -> tuple[dict[str, Any], set[str], dict[str, Any]]:
    from pulumi.runtime import config as runtime_config

    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    prefix = f"{NAMESPACE}:"
    raw, other = split_namespace(merged)
    secret = {k for k in raw if runtime_config.is_config_secret(prefix + k)}
    secret |= {k[len(prefix):] for k in runtime_config.get_config_secret_keys_env() if k.startswith(prefix)}
    return raw, secret, other


def load() -> tuple[Settings, Secrets]:
    """Read and validate this stack's config. The program's single entry point to config.

    A real deploy refuses placeholders (:func:`placeholders`); a preview, or an update that only
    writes YAML (``renderYamlToDirectory``), warns about them.
    """
    raw, secret_keys, other = _raw_pulumi_config()
    settings = validate(raw, secret_keys, other)
    unset = placeholder_lines(settings)
    if unset and deploying() and not settings.render_yaml_to_directory:
        raise ConfigError([f"{line} (pulumi up refuses placeholders)" for line in unset])
    if unset and not offline():
        for line in unset:
            pulumi.log.warn(f"{line} (pulumi up will refuse it)")
    cfg = pulumi.Config(NAMESPACE)
    secrets = Secrets(
        deepseek_api_key=cfg.require_secret("deepseekApiKey"),
        database_password=cfg.require_secret("databasePassword"),
        lurus_api_key=cfg.require_secret("lurusApiKey"),
        kubeconfig=cfg.get_secret("kubeconfig"),
        backup_remote={
            BACKUP_REMOTE_SECRETS[key]: cfg.require_secret(key)
            for key in (settings.backup.remote.secret_keys() if settings.backup.enabled and settings.backup.remote.enabled else ())
        },
        redis_password=cfg.get_secret("redisPassword"),
        nextauth_secret=cfg.get_secret("nextauthSecret"),
    )
    return settings, secrets


def required_secrets(settings: Settings) -> tuple[str, ...]:
    """Every secret a real ``pulumi up`` of these settings reads (what :func:`validate` requires)."""
    out = list(keys.REQUIRED_SECRETS)
    if settings.explicit_cluster and not settings.render_yaml_to_directory:
        out.append("kubeconfig")
    remote = settings.backup.remote
    if settings.backup.enabled and remote.enabled:
        out += remote.secret_keys()
    if settings.adopt.enabled:
        out += KEPT_SECRETS
    return tuple(out)
