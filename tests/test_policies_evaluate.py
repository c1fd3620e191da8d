"""policies.catalog.evaluate: resource rules run object by object, yet the report keeps rule order, then input order."""

from __future__ import annotations

from policies.catalog import RULES, evaluate

from .policy_baseline import DELETE, ctr, manifests, mutate, objects, prod_settings

WEB, API = "Deployment/ai-qtrd-web", "Deployment/ai-qtrd-api"


def broken() -> list[dict]:
    docs = manifests()
    for target in (API, WEB):  # two objects, each breaking resource rules and a stack rule
        docs = mutate(docs, target, ctr(target, 0, "resources", "limits"), DELETE)
        docs = mutate(docs, target, ctr(target, 0, "image"), "busybox:latest")
        docs = mutate(docs, target, ("metadata", "labels"), DELETE)
        docs = mutate(docs, target, ("spec", "template", "spec", "containers", 0, "env"),
                      [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "missing", "key": "k"}}}])
    return docs


def test_report_is_in_rule_order_then_input_order():
    objs = objects(broken())
    found = evaluate(objs, prod_settings())
    rule_index = {rule.name: i for i, rule in enumerate(RULES)}
    position = {(o.kind, o.name): i for i, o in enumerate(objs)}
    keys = [(rule_index[v.policy], position[(v.kind, v.name)]) for v in found]
    assert len({v.policy for v in found}) >= 4  # resource and stack rules both reported
    assert {v.name for v in found} >= {"ai-qtrd-web", "ai-qtrd-api"}
    assert keys == sorted(keys)


def test_each_resource_rule_reports_what_it_reports_alone():
    objs = objects(broken())
    found = evaluate(objs, prod_settings())
    settings = prod_settings()
    for rule in (r for r in RULES if not r.stack):
        alone = [msg for o in objs if rule.applies_to(o) for msg in rule.check(o, settings[rule.name].values)]
        assert [v.message for v in found if v.policy == rule.name] == alone, rule.name
