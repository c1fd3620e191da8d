"""Config validation: every problem is reported at once, naming the key and quoting the value,
and the program registers nothing when the config is bad."""

from __future__ import annotations

import copy
import json

import pytest

from gushen_infra import config, quantity, render

from .conftest import ROOT, run_stack


def prod_raw() -> dict:
    """The prod stack's ``gushen:`` config as the program receives it (decoded, prefix stripped)."""
    values, _ = render.stack_config("prod", ROOT)
    return {k.split(":", 1)[1]: json.loads(v) if v.startswith(("{", "[")) else v for k, v in values.items()}


SECRET_KEYS = set(config.SECRET_KEYS)


def with_change(path: str, value, raw=None) -> dict:
    """Prod config (or ``raw``) with one (dotted) key set to ``value``; ``...`` deletes it."""
    raw = copy.deepcopy(prod_raw() if raw is None else raw)
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
    # YAML's .inf (the offline render reads the stack file with PyYAML) is a number, not a quantity.
    ("web.resources.limits.cpu", float("inf"), "gushen:web.resources.limits.cpu: malformed quantity (got inf)"),
    ("api.resources.limits.memory", "2GB",
     "gushen:api.resources.limits.memory: malformed quantity; Kubernetes spells it '2Gi' (powers of 1024, what "
     "memory sizes use) or '2G' (powers of 1000) (got '2GB')"),
    ("api.resources.requests.memory", "3Gi",
     "gushen:api.resources.requests.memory: request '3Gi' is above the limit '2Gi'"),
    ("web.resources.requests.cpu", "600m",
     "gushen:web.resources.requests.cpu: request '600m' is above the limit '500m'"),
    ("web.replicas", 0, "gushen:web.replicas: Input should be greater than or equal to 1 (got 0)"),
    ("nodes.web", "", "gushen:nodes.web: empty node name (got '')"),
    ("nodes.data", "   ", "gushen:nodes.data: empty node name (got '   ')"),
    ("nodes.web", "Cloud_1", "gushen:nodes.web: invalid node name (want a DNS-1123 subdomain) (got 'Cloud_1')"),
    ("web.image", "gushen-web",
     "gushen:web.image: image has no tag (pin a version: the nodes hold imported images only) (got 'gushen-web')"),
    ("web.image", "Gushen-Web:1.0", "gushen:web.image: invalid image reference (got 'Gushen-Web:1.0')"),
    ("api.image", "lurus-ai-qtrd:latest",
     "gushen:api.image: image is tagged 'latest' (pin a version) (got 'lurus-ai-qtrd:latest')"),
    ("domain", "gushen_lurus.cn",
     "gushen:domain: invalid domain (want a lower-case DNS name such as gushen.lurus.cn) (got 'gushen_lurus.cn')"),
    ("domain", "localhost",
     "gushen:domain: invalid domain (want a lower-case DNS name such as gushen.lurus.cn) (got 'localhost')"),
    ("api.port", 70000, "gushen:api.port: Input should be less than or equal to 65535 (got 70000)"),
    ("web.port", 0, "gushen:web.port: Input should be greater than or equal to 1 (got 0)"),
    ("postgres.port", "five",
     "gushen:postgres.port: Input should be a valid integer, unable to parse string as an integer (got 'five')"),
    ("webb", {"replicas": 2}, 'gushen:webb: unknown key (did you mean \'web\'?), value {"replicas": 2}'),
    ("web.replica", 2, "gushen:web.replica: unknown key (did you mean 'replicas'?), value 2"),
    ("namespace", "AI_QTRD",
     "gushen:namespace: invalid name (want a DNS-1123 label: lower-case letters, digits, '-') (got 'AI_QTRD')"),
    ("app.corsOrigins", ["gushen.lurus.cn"],
     "gushen:app.corsOrigins.0: invalid URL (want http:// or https://) (got 'gushen.lurus.cn')"),
    ("web.probes.liveness.periodSeconds", 0,
     "gushen:web.probes.liveness.periodSeconds: Input should be greater than or equal to 1 (got 0)"),
    ("nodes.api", ..., "gushen:nodes.api: required key is missing"),
]


@pytest.mark.parametrize("path,value,expected", BAD_CASES, ids=[f"{c[0]}={c[1]!r}" for c in BAD_CASES])
def test_bad_value_is_reported_with_key_and_value(path, value, expected):
    assert problems_of(with_change(path, value)) == [expected]


def test_every_problem_is_reported_at_once():
    raw = with_change("web.resources.requests.cpu", "500x")
    raw["api"]["image"] = "lurus-ai-qtrd"
    raw["domian"] = "gushen.lurus.cn"
    problems = problems_of(raw)
    assert len(problems) == 3, problems
    assert any(p.startswith("gushen:domian: unknown key (did you mean 'domain'?)") for p in problems)


def test_every_cross_field_problem_is_reported_at_once_in_the_settings_order():
    raw = prod_raw()
    raw["nodes"]["web"] = "cloud-ubuntu-9"
    raw["web"]["resources"]["requests"]["cpu"] = "600m"
    raw["api"]["autoscaling"] = {"enabled": True, "minReplicas": 3, "maxReplicas": 2, "cpuUtilization": 70}
    for block in (raw["redis"], raw["redis"]["sentinel"], raw["redis"]["proxy"]):
        block["resources"]["requests"]["memory"] = "4Gi"
    raw["redis"]["maxmemory"] = "4gb"
    raw["tls"].update(issuer="letsencrypt-staging", stagingIssuer=False)
    raw["backup"]["remote"].update(
        resources={"requests": {"cpu": "50m", "memory": "4Gi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        redisRetention={}, postgresRetention={})
    raw["network"]["httpsEgress"] = [{"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}]
    raw["monitoring"] = {"enabled": False, "prometheusRule": True}
    raw["adopt"] = {"enabled": True, "objects": [*config.LIVE_OBJECTS, "StatefulSet/redis"],
                    "force": ["Deployment/redis-proxy"]}
    raw["redisPassword"] = raw["nextauthSecret"] = "[secret]"
    assert problems_of(raw) == [
        "gushen:nodes.web: unknown node 'cloud-ubuntu-9'; gushen:clusterNodes declares cloud-ubuntu-1-16c32g, "
        "cloud-ubuntu-2-4c8g, cloud-ubuntu-3-2c2g (a renamed node is renamed in both places)",
        "gushen:web.resources.requests.cpu: request '600m' is above the limit '500m'",
        "gushen:api.autoscaling.minReplicas: 3 is above maxReplicas 2",
        "gushen:redis.resources.requests.memory: request '4Gi' is above the limit '2Gi'",
        "gushen:redis.sentinel.resources.requests.memory: request '4Gi' is above the limit '64Mi'",
        "gushen:redis.proxy.resources.requests.memory: request '4Gi' is above the limit '128Mi'",
        "gushen:redis.maxmemory: '4gb' is not below the memory limit '2Gi' (the kernel would kill Redis before it evicts)",
        "gushen:tls.issuer: 'letsencrypt-staging' needs stagingIssuer: true (got stagingIssuer: false)",
        "gushen:backup.remote.resources.requests.memory: request '4Gi' is above the limit '512Mi'",
        "gushen:backup.remote.redisRetention: set at least one count, or restic forget would delete everything (got {})",
        "gushen:backup.remote.postgresRetention: set at least one count, or restic forget would delete everything (got {})",
        "gushen:network.httpsEgress.0.except.0: '192.168.0.0/16' is not a strict subnet of cidr '10.0.0.0/8'",
        "gushen:monitoring.prometheusRule: true needs enabled: true (got enabled: false)",
        "gushen:adopt.objects: 'StatefulSet/redis' cannot be imported: its podManagementPolicy and "
        "volumeClaimTemplates are immutable (docs/adoption.md replaces it)",
        "gushen:adopt.force: 'Deployment/redis-proxy' is not in gushen:adopt.objects",
        "gushen:network.enabled: must be false while adopt.enabled is true (default-deny would cut the running "
        "pods' connections mid-migration; enable it in the next run) (got true)",
    ]


def test_requests_equal_to_limits_are_accepted():
    """Guaranteed QoS: what the pod asks for is what it may use."""
    limits = {"cpu": "500m", "memory": "512Mi"}
    raw = with_change("web.resources", {"requests": limits, "limits": limits})
    assert config.validate(raw, SECRET_KEYS).web.resources.requests.memory == "512Mi"


def test_an_image_pinned_by_digest_needs_no_tag():
    image = "registry.lurus.cn/gushen-web@sha256:" + "0" * 64
    assert config.validate(with_change("web.image", image), SECRET_KEYS).web.image == image


def test_an_autoscaler_may_pin_the_replica_count():
    raw = with_change("api.autoscaling", {"enabled": True, "minReplicas": 2, "maxReplicas": 2, "cpuUtilization": 70})
    assert config.validate(raw, SECRET_KEYS).api.autoscaling.max_replicas == 2


def test_secret_in_plain_text_is_refused():
    raw = {**prod_raw(), "deepseekApiKey": "sk-123"}
    problems = problems_of(raw, secret_keys=SECRET_KEYS - {"deepseekApiKey"})
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


# --- quantities: every form Kubernetes takes, and nothing that would break -----------------------

#: (key, value as the stack file or `pulumi config set --path` gives it, what the pod spec gets)
QUANTITY_FORMS = [
    ("web.resources.limits.cpu", 2, "2"),
    ("web.resources.requests.cpu", 0.5, "500m"),
    ("web.resources.requests.cpu", 0.25, "250m"),
    ("web.resources.limits.cpu", "1.5", "1.5"),
    ("web.resources.limits.memory", 536870912, "536870912"),
    ("web.resources.limits.memory", "0.5Gi", "0.5Gi"),
    ("web.resources.limits.memory", "512M", "512M"),
    ("web.resources.limits.memory", " 512Mi ", "512Mi"),
    ("web.resources.requests.memory", "1Mi", "1Mi"),  # the smallest size taken: below it, a slip of the unit
    ("web.resources.requests.cpu", 0, "0"),  # no reservation: Kubernetes takes it
]


@pytest.mark.parametrize("path,value,expected", QUANTITY_FORMS, ids=[f"{c[0]}={c[1]!r}" for c in QUANTITY_FORMS])
def test_every_quantity_form_kubernetes_accepts_is_accepted(path, value, expected):
    """A number becomes the string the API server stores (``cpu: 0.5`` is ``500m``); a string stays
    as written (the API server reads ``1000m`` and ``1`` alike, and rewriting it would show a diff
    on every preview)."""
    settings = config.validate(with_change(path, value), SECRET_KEYS)
    *parents, leaf = path.split(".")
    node = settings
    for part in parents:
        node = getattr(node, part)
    assert getattr(node, leaf) == expected
    assert quantity.parse(expected) == quantity.parse(value)


def test_numeric_quantities_reach_the_pod_spec_as_kubernetes_reads_them():
    resources = {"requests": {"cpu": 0.5, "memory": 268435456}, "limits": {"cpu": 1, "memory": "512Mi"}}
    stack = run_stack("prod", {"web": {**prod_raw()["web"], "resources": resources}})
    container = stack.get("Deployment", "ai-qtrd-web")["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "268435456"}, "limits": {"cpu": "1", "memory": "512Mi"}
    }


REFUSED = [
    ("web.resources.limits.memory", "512m", "'512m' is 0.512 bytes (m is milli, not mega); did you mean '512Mi'?"),
    ("web.resources.limits.memory", "+512m", "'+512m' is 0.512 bytes (m is milli, not mega); did you mean '512Mi'?"),
    ("api.resources.requests.memory", 512, "'512' is only 512 bytes; did you mean '512Mi'?"),
    ("web.resources.limits.memory", "0.5", "'0.5' is not a whole number of bytes; did you mean '0.5Mi'?"),
    ("redis.storage.size", "10m", "'10m' is 0.01 bytes (m is milli, not mega); did you mean '10Mi'?"),
    ("backup.storage.size", "50m", "'50m' is 0.05 bytes (m is milli, not mega); did you mean '50Mi'?"),
    ("web.resources.requests.cpu", "-1", "negative quantity"),
    ("web.resources.requests.cpu", True, "Input should be a valid string"),
    ("web.resources.requests.cpu", "2 cores", "malformed quantity"),
    ("network.postgres.cidr", "192.0.2.10", "no prefix length (one address is 192.0.2.10/32)"),
    ("network.postgres.cidr", "2001:db8::10", "no prefix length (one address is 2001:db8::10/128)"),
    ("network.postgres.cidr", "192.0.2.10/24",
     "invalid CIDR (192.0.2.10/24 has host bits set; want e.g. 192.0.2.10/32)"),
    ("network.postgres.cidr", "198.51.100.7/16",
     "invalid CIDR (198.51.100.7/16 has host bits set; want e.g. 198.51.100.7/32)"),
    ("network.postgres.cidr", "192.0.2.300/32",
     "invalid CIDR ('192.0.2.300/32' does not appear to be an IPv4 or IPv6 network; want e.g. 192.0.2.10/32)"),
    ("network.httpsEgress.0.cidr", "203.0.113.7", "no prefix length (one address is 203.0.113.7/32)"),
    ("network.httpsEgress.0.except.0", "10.0.0.1", "no prefix length (one address is 10.0.0.1/32)"),
]


def set_path(raw: dict, path: str, value) -> dict:
    node = raw
    *parents, leaf = path.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(leaf) if isinstance(node, list) else leaf] = value
    return raw


@pytest.mark.parametrize("path,value,expected", REFUSED, ids=[f"{c[0]}={c[1]!r}" for c in REFUSED])
def test_what_kubernetes_would_refuse_or_misread_is_refused_with_a_hint(path, value, expected):
    assert problems_of(set_path(copy.deepcopy(prod_raw()), path, value)) == [f"gushen:{path}: {expected} (got {value!r})"]


def resources_keys(model=None, key="") -> list[str]:
    """The dotted key of every ``Resources`` block in the settings."""
    out = []
    for name, field in (model or config.Settings).model_fields.items():
        alias, inner = field.alias or name, config._model_in(field.annotation)
        if inner is config.Resources:
            out.append(f"{key}{alias}")
        elif inner is not None:
            out += resources_keys(inner, f"{key}{alias}.")
    return out


@pytest.mark.parametrize("key", resources_keys())
def test_every_request_above_its_limit_is_named_by_its_own_key(key):
    block = config.validate(prod_raw(), SECRET_KEYS).model_dump(by_alias=True)
    for part in key.split("."):
        block = block[part]
    raw = with_change(key, {**block, "requests": {**block["requests"], "memory": "64Gi"}})
    assert problems_of(raw) == [
        f"gushen:{key}.requests.memory: request '64Gi' is above the limit {block['limits']['memory']!r}"
    ]


def test_every_cidr_key_is_checked_the_same_way():
    """Each ``Cidr`` field of the settings refuses an address without a prefix length."""
    cidr_keys = []

    def walk(model, key):
        for name, field in model.model_fields.items():
            alias = field.alias or name
            if "_cidr" in repr(field.metadata) or "_cidr" in repr(field.annotation):
                cidr_keys.append(f"{key}{alias}")
            inner = config._model_in(field.annotation)
            if inner is not None:
                walk(inner, f"{key}{alias}.")

    walk(config.Settings, "")
    assert sorted(cidr_keys) == [
        "backup.remote.cidr", "network.httpsEgress.cidr", "network.httpsEgress.except", "network.postgres.cidr",
    ]


# --- directories the containers write to ---------------------------------------------------------

ABS_PATH = "want an absolute directory path such as /tmp (not /, no '..')"


@pytest.mark.parametrize("path,value", [
    ("api.home", "relative/home"), ("api.home", "/"), ("api.home", "//"), ("api.home", "/srv//home"),
    ("api.home", "/srv/../etc"), ("api.home", "/srv/.."), ("web.writablePaths.1", "cache"),
])
def test_a_directory_that_is_not_absolute_or_climbs_out_is_refused(path, value):
    raw = set_path(copy.deepcopy(prod_raw()), path.rsplit(".", 1)[0], ["/tmp", value]) if path[-1].isdigit() \
        else with_change(path, value)
    assert problems_of(raw) == [f"gushen:{path}: {ABS_PATH} (got {value!r})"]


@pytest.mark.parametrize("value,kept", [
    ("/srv/home", "/srv/home"), ("/srv/home/", "/srv/home"), ("/srv/home//", None), ("/opt/TeX", "/opt/TeX"),
    ("/srv/..data", "/srv/..data"),
])
def test_a_directory_is_kept_as_written_without_its_trailing_slash(value, kept):
    """What the container's ``HOME`` and its volume's mount path become (``None``: refused)."""
    try:
        home = config.validate(with_change("api.home", value), SECRET_KEYS).api.home
    except config.ConfigError as exc:
        assert exc.problems == [f"gushen:api.home: {ABS_PATH} (got {value!r})"]
        home = None
    assert home == kept


# --- hints where the mistake is obvious ----------------------------------------------------------

@pytest.mark.parametrize(
    "path,value,expected",
    [
        ("web.replica", 2, "gushen:web.replica: unknown key (did you mean 'replicas'?), value 2"),
        ("web.resources.limits.memroy", "1Gi", "gushen:web.resources.limits.memroy: unknown key (did you mean 'memory'?), value '1Gi'"),
        ("redis.sentinel.quorom", 2, "gushen:redis.sentinel.quorom: unknown key (did you mean 'quorum'?), value 2"),
        ("tls.acmeMail", "ops@lurus.cn", "gushen:tls.acmeMail: unknown key (did you mean 'acmeEmail'?), value 'ops@lurus.cn'"),
        # A node's name is no key: the suggestion comes from the node's own keys.
        ("clusterNodes.cloud-ubuntu-3-2c2g.memroy", "4Gi",
         "gushen:clusterNodes.cloud-ubuntu-3-2c2g.memroy: unknown key (did you mean 'memory'?), value '4Gi'"),
        # The secrets are top-level keys: not offered as if they belonged under web.
        ("web.kubeconfig", "k3s.yaml", "gushen:web.kubeconfig: unknown key (a typo?), value 'k3s.yaml'"),
    ],
)
def test_a_nested_typo_gets_a_suggestion_from_its_own_level(path, value, expected):
    assert expected in problems_of(with_change(path, value))


@pytest.mark.parametrize("value, quoted", [
    ({"replicas": 2, "port": 3000}, '{"port": 3000, "replicas": 2}'),  # keys sorted: one dict, one text
    (["a" * 76], '["' + "a" * 76 + '"]'),  # 80 characters: whole
    (["a" * 77], '["' + "a" * 75 + "..."),  # 81: cut to 80
], ids=["sorted", "80 chars", "81 chars"])
def test_a_structured_value_is_quoted_as_json_and_cut_at_80_characters(value, quoted):
    assert len(quoted) <= 80
    assert problems_of({**prod_raw(), "webb": value}) == [f"gushen:webb: unknown key (did you mean 'web'?), value {quoted}"]


def test_a_top_level_typo_is_suggested_from_the_keys_and_the_secrets():
    assert problems_of({**prod_raw(), "kubeContxt": "k3s", "databasePasword": "x"}) == [
        "gushen:kubeContxt: unknown key (did you mean 'kubeContext'?), value 'k3s'",
        "gushen:databasePasword: unknown key (did you mean 'databasePassword'?), value 'x'",
    ]


def test_a_typo_inside_a_list_item_is_suggested_from_the_items_keys():
    raw = copy.deepcopy(prod_raw())
    raw["network"]["httpsEgress"][0]["cidrr"] = raw["network"]["httpsEgress"][0].pop("cidr")
    problems = problems_of(raw)
    assert "gushen:network.httpsEgress.0.cidrr: unknown key (did you mean 'cidr'?), value '0.0.0.0/0'" in problems


def test_adoption_needs_the_live_secrets_values():
    raw = with_change("adopt", {"enabled": True})
    raw["network"]["enabled"] = False
    raw["redisPassword"] = raw["nextauthSecret"] = "[secret]"  # as the render's placeholders
    assert config.validate(raw, SECRET_KEYS).adopt.enabled is True
    del raw["redisPassword"], raw["nextauthSecret"]
    assert problems_of(raw) == [
        f"gushen:{key}: required while adopt.enabled is true: the live Secret's value (docs/adoption.md; "
        f"pulumi config set --secret gushen:{key} ...)" for key in ("redisPassword", "nextauthSecret")
    ]


def test_an_enabled_off_site_copy_without_a_repository_still_names_its_password():
    raw = with_change("backup.remote", {"enabled": True})
    del raw["resticPassword"]
    assert problems_of(raw) == [
        "gushen:backup.remote.repository: required when enabled is true (e.g. s3:https://s3.example.org/gushen-backups)",
        "gushen:backup.remote.cidr: required when enabled is true (the repository's address, e.g. 192.0.2.30/32)",
        "gushen:resticPassword: required secret for backup.remote (any repository) is missing "
        "(pulumi config set --secret gushen:resticPassword ...)",
    ]


def test_with_backups_off_the_off_site_copys_secrets_are_not_needed():
    raw = with_change("backup.enabled", False)
    assert raw["backup"]["remote"]["enabled"] is True
    del raw["resticPassword"], raw["resticAwsAccessKeyId"], raw["resticAwsSecretAccessKey"]
    assert config.validate(raw, SECRET_KEYS).backup.enabled is False


@pytest.mark.parametrize("raw", [{}, {key: "x" for key in SECRET_KEYS}], ids=["nothing", "secrets only"])
def test_no_config_at_all_is_one_line_not_one_per_key(raw):
    assert problems_of(raw) == [
        "gushen: no config at all in the gushen: namespace (an empty stack file, or one without a "
        "`config:` section?); Pulumi.prod.yaml has every key"
    ]


@pytest.mark.parametrize("key, value, want", [
    ("databasePasword", "s3cr3t-db",
     "gushen:databasePasword: unknown key (did you mean 'databasePassword'?), value [secret]"),
    ("domain", "s3cr3t-domain!", None),
    ("web.port", "s3cr3t-port", None),
])
def test_a_value_held_as_a_secret_is_never_printed(key, value, want):
    """`pulumi config set --secret` on a typo'd or wrong key: the error names the key, not the value."""
    raw = prod_raw() | {key: value}
    problems = problems_of(raw, set(SECRET_KEYS) | {key})
    assert not any(value in p for p in problems), problems
    named = [p for p in problems if p.startswith(f"gushen:{key}")]
    assert named and all("[secret]" in p for p in named)
    if want:
        assert want in problems
