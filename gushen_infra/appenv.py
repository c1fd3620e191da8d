"""The application's env, derived from the typed settings (spec appendix C)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pulumi

from . import config


def public_url(settings: config.Settings) -> str:
    return f"https://{settings.domain}"


def config_data(settings: config.Settings) -> dict[str, str]:
    """Non-secret settings for ConfigMap ``ai-qtrd-config``; keys are the env names."""
    url = public_url(settings)
    return {
        "REDIS_DB": "0",
        "REDIS_ENABLED": "true",
        "NEXTAUTH_URL": url,
        "LURUS_API_URL": settings.app.lurus_api_url,
        "DEEPSEEK_API_BASE": settings.app.deepseek_api_base,
        "DEEPSEEK_MODEL": settings.app.deepseek_model,
        "CORS_ORIGINS": json.dumps(settings.app.cors_origins),
        "WEB_URL": url,
        "API_URL": f"{url}/api",
    }


def database_url(pg: config.Postgres, password: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.secret(password).apply(
        lambda pw: f"postgresql://{quote(pg.user, safe='')}:{quote(pw, safe='')}@{pg.host}:{pg.port}/{pg.database}"
    )


def secret_data(
    settings: config.Settings,
    secrets: config.Secrets,
    redis_password: pulumi.Input[str],
    nextauth_secret: pulumi.Input[str],
) -> dict[str, pulumi.Input[str]]:
    """Secret env for Secret ``ai-qtrd-secrets``; keys are the env names."""
    return {
        "DEEPSEEK_API_KEY": secrets.deepseek_api_key,
        "DATABASE_PASSWORD": secrets.database_password,
        "DATABASE_URL": database_url(settings.postgres, secrets.database_password),
        "REDIS_PASSWORD": redis_password,
        "NEXTAUTH_SECRET": nextauth_secret,
        "LURUS_API_KEY": secrets.lurus_api_key,
    }
