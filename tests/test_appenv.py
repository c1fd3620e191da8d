"""The application env derived from settings."""

from __future__ import annotations

import pulumi
import pytest

from gushen_infra import appenv, config


@pytest.fixture
def postgres():
    return config.Postgres(host="db.internal", port=5433, database="gushen", user="quant user")


@pulumi.runtime.test
def test_database_url_escapes_credentials_and_stays_secret(postgres):
    url = appenv.database_url(postgres, "p@ss/w:rd")

    def check(args):
        value, is_secret = args
        assert value == "postgresql://quant%20user:p%40ss%2Fw%3Ard@db.internal:5433/gushen"
        assert is_secret

    return pulumi.Output.all(url, pulumi.Output.from_input(url).is_secret()).apply(check)
