"""Spec 19.1's recovery objectives, computed from the render (tests/recovery_model.py): the table
in docs/recovery.md is the computed one, and the model follows the render when it changes."""

from __future__ import annotations

import re

import pytest

from . import recovery_model
from .conftest import ROOT, run_stack
from .test_config import prod_raw

NODES = tuple(prod_raw()["nodes"][tier] for tier in ("data", "api", "web"))
BEGIN, END = "<!-- recovery-table:begin (tests/test_recovery.py) -->", "<!-- recovery-table:end -->"


def outcomes(stack) -> dict[str, recovery_model.Outcome]:
    return {o.scenario: o for o in recovery_model.model(stack, NODES)}


def test_docs_show_the_computed_table(prod):
    text = (ROOT / "docs" / "recovery.md").read_text()
    shown = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert shown == recovery_model.table(recovery_model.model(prod, NODES)), \
        "docs/recovery.md is out of date: paste recovery_model.table(...) between the markers"


def test_prod_meets_what_it_can_and_names_every_gap(prod):
    got = outcomes(prod)
    assert [o.scenario for o in got.values()] == [
        "Pod failure", *(f"Node failure: {n}" for n in NODES), "Redis master failure", "Whole cluster lost",
        "Database corruption",
    ]
    assert got["Pod failure"].meets and got["Pod failure"].rto_seconds == 15, "readiness 10 s + one 5 s period"
    data, api, web = (got[f"Node failure: {n}"] for n in NODES)
    # Spec section 2 places Redis and PostgreSQL on node 1: nothing of them can move.
    assert data.rto_seconds is None and set(data.down) == {"redis", "redis-proxy", "postgres"}
    assert "off-site" in data.recovery_points
    assert web.rto_seconds is None and web.down == ("ai-qtrd-web",), "the web tier is pinned to node 3"
    assert api.rto_seconds == 40 + 300 + 15 and not api.meets, "the API moves, after the eviction timeout"
    redis = got["Redis master failure"]
    assert redis.rto_seconds == 5 + 10 + 2 and "at most 10 s" in redis.rpo and not redis.meets
    loss = got["Whole cluster lost"]
    assert "Redis ≤ 1 h 00 min" in loss.rpo and "PostgreSQL ≤ 24 h 00 min" in loss.rpo and not loss.meets
    assert not got["Database corruption"].meets
    for o in got.values():
        assert o.meets or o.gap, f"{o.scenario}: a missed objective must say why"


def test_without_offsite_copies_a_lost_disk_or_cluster_loses_everything():
    raw = prod_raw()["backup"]
    stack = run_stack("prod", {"backup": {**raw, "remote": {**raw["remote"], "enabled": False}}})
    got = outcomes(stack)
    assert "no copy leaves the node" in got[f"Node failure: {NODES[0]}"].rpo
    assert got[f"Node failure: {NODES[0]}"].recovery_points == "the node's disk only"
    assert "the data is gone" in got["Whole cluster lost"].gap


@pytest.mark.parametrize("schedule, meets", [("30 3 * * *", False), ("30 3,15 * * *", True)])
def test_the_database_rpo_follows_the_dump_schedule(schedule, meets):
    raw = prod_raw()["backup"]
    stack = run_stack("prod", {"backup": {**raw, "postgres": {**raw["postgres"], "schedule": schedule}}})
    corruption = outcomes(stack)["Database corruption"]
    assert corruption.meets is meets
    assert re.search(r"≤ (24|12) h 00 min", corruption.rpo)


def test_the_failover_time_follows_sentinel():
    raw = prod_raw()["redis"]
    stack = run_stack("prod", {"redis": {**raw, "sentinel": {**raw["sentinel"], "downAfterMilliseconds": 3000}}})
    assert outcomes(stack)["Redis master failure"].rto_seconds == 3 + 10 + 2
