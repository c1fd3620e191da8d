"""The applications' own settings and the external PostgreSQL server they use."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .values import NodeName, Port, Url, _Model


class App(_Model):
    """Non-secret application settings, delivered through ConfigMap ``ai-qtrd-config``."""

    deepseek_api_base: Url
    deepseek_model: Annotated[str, Field(min_length=1)]
    lurus_api_url: Url
    cors_origins: Annotated[list[Url], Field(min_length=1)]


class Postgres(_Model):
    """The external PostgreSQL server (outside the cluster's namespace)."""

    host: NodeName
    port: Port
    database: Annotated[str, Field(min_length=1)]
    user: Annotated[str, Field(min_length=1)]
