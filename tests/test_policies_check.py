"""``python -m policies.check``: exit codes 0/1/2, the line format, --json, --config, stdin and List input."""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
from unittest import mock

import pytest
import yaml

from policies import check
from policies.catalog import RULES

from .conftest import ROOT
from .policy_baseline import DELETE, ctr, manifests, mutate, objects, prod_settings, with_prod

WEB = "Deployment/ai-qtrd-web"
LINE = re.compile(r"^(mandatory|advisory) [a-z]+(-[a-z]+)+ [A-Za-z]+/[a-z0-9.-]+: \S.*$")
NO_LIMITS = "mandatory container-resources Deployment/ai-qtrd-web: container 'web' sets no limits.cpu"


#: The prod stack's generated policy config: the baseline stands on prod's nodes.
PROD_CONFIG = "policies/config.prod.json"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """``python -m policies.check ARGS`` (prod's policy config unless ARGS name one), in this process.

    ``main`` is what the module's ``__main__`` block exits with; calling it here keeps the suite fast
    and lets mutation testing see what it reaches. ``test_the_module_runs_as_a_command`` runs the
    real command once.
    """
    config = () if "--config" in args else ("--config", PROD_CONFIG)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(ROOT), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            mock.patch.object(sys, "stdin", io.StringIO(stdin or "")):
        code = check.main([*args, *config])
    return subprocess.CompletedProcess(["policies.check", *args], code, out.getvalue(), err.getvalue())


def test_the_module_runs_as_a_command(broken):
    result = subprocess.run([sys.executable, "-m", "policies.check", broken, "--config", PROD_CONFIG],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout.splitlines()) == (1, [NO_LIMITS])


def write(path, docs) -> str:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return str(path)


@pytest.fixture
def clean(tmp_path) -> str:
    return write(tmp_path / "clean.yaml", manifests())


@pytest.fixture
def broken(tmp_path) -> str:
    return write(tmp_path / "broken.yaml", mutate(manifests(), WEB, ctr(WEB, 0, "resources", "limits", "cpu"), DELETE))


def test_clean_stack_exits_0_and_prints_nothing(clean):
    result = run(clean)
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == f"policies.check: {len(manifests())} objects, 0 mandatory and 0 advisory violations\n"


def test_mandatory_violation_exits_1_with_one_line(broken):
    result = run(broken)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [NO_LIMITS]
    assert LINE.match(NO_LIMITS)
    assert result.stderr == f"policies.check: {len(manifests())} objects, 1 mandatory and 0 advisory violations\n"


def test_report_as_render_check_calls_it_prints_lines_under_its_name():
    """``render --check`` passes its objects and its name only: the same lines, its name on the summary."""
    docs = mutate(manifests(), "Secret/ai-qtrd-secrets", ("metadata", "labels"), DELETE)
    docs = mutate(docs, WEB, ctr(WEB, 0, "resources", "limits", "cpu"), DELETE)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = check.report(objects(docs), prod_settings(), prog="render --check")
    assert code == 1
    assert out.getvalue().splitlines() == [
        NO_LIMITS,
        "advisory recommended-labels Secret/ai-qtrd-secrets: missing labels "
        "app.kubernetes.io/name, app.kubernetes.io/part-of, app.kubernetes.io/managed-by",
    ]
    assert err.getvalue() == f"render --check: {len(docs)} objects, 1 mandatory and 1 advisory violations\n"


def test_advisory_only_exits_0(tmp_path):
    path = write(tmp_path / "a.yaml", mutate(manifests(), "Secret/ai-qtrd-secrets", ("metadata", "labels"), DELETE))
    result = run(path)
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "advisory recommended-labels Secret/ai-qtrd-secrets: missing labels "
        "app.kubernetes.io/name, app.kubernetes.io/part-of, app.kubernetes.io/managed-by"
    ]


def test_json_output(broken):
    result = run(broken, "--json")
    assert result.returncode == 1
    violations = [{
        "policy": "container-resources", "enforcement": "mandatory", "kind": "Deployment",
        "name": "ai-qtrd-web", "message": "container 'web' sets no limits.cpu",
    }]
    assert result.stdout == json.dumps(violations, indent=2) + "\n"  # one field a line, for a person reading CI


def test_several_files_form_one_stack(tmp_path):
    docs = manifests()
    secrets = [d for d in docs if d["kind"] == "Secret"]
    rest = [d for d in docs if d["kind"] != "Secret"]
    alone = run(write(tmp_path / "rest.yaml", rest))
    together = run(write(tmp_path / "secrets.yaml", secrets), str(tmp_path / "rest.yaml"))
    assert alone.returncode == 1 and "config-references" in alone.stdout
    assert (together.returncode, together.stdout) == (0, "")


def test_stdin_and_list_documents(clean):
    as_list = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": manifests()})
    result = run("-", stdin=as_list)
    assert (result.returncode, result.stdout) == (0, "")
    assert f"{len(manifests())} objects" in result.stderr


@pytest.mark.parametrize("config, code, lines", [
    ({"container-resources": "advisory"}, 0, [NO_LIMITS.replace("mandatory", "advisory", 1)]),
    ({"container-resources": "disabled"}, 0, []),
    ({"all": "advisory"}, 0, [NO_LIMITS.replace("mandatory", "advisory", 1)]),
    ({"all": "advisory", "container-resources": "mandatory"}, 1, [NO_LIMITS]),
])
def test_config_sets_enforcement(tmp_path, broken, config, code, lines):
    cfg = tmp_path / "policy-config.json"
    cfg.write_text(json.dumps(with_prod(config)))
    result = run(broken, "--config", str(cfg))
    assert (result.returncode, result.stdout.splitlines()) == (code, lines)


def test_config_sets_values(tmp_path, clean):
    cfg = tmp_path / "policy-config.json"
    cfg.write_text(json.dumps(with_prod({"node-placement": {"nodes": {"web": "n9", "api": "cloud-ubuntu-2-4c8g",
                                                                      "data": "cloud-ubuntu-1-16c32g"}}})))
    result = run(clean, "--config", str(cfg))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "mandatory node-placement Deployment/ai-qtrd-web: web pods must set nodeSelector "
        "kubernetes.io/hostname=n9 (got 'cloud-ubuntu-3-2c2g')"
    ]


def test_without_a_config_the_rules_on_nodes_ask_for_the_stacks_config(tmp_path, clean):
    """The pack has no nodes of its own: run with no config, it names the file to pass, and checks nothing."""
    cfg = tmp_path / "none.json"
    cfg.write_text("{}")
    result = run(clean, "--config", str(cfg))
    assert (result.returncode, result.stdout) == (2, "")
    for key in ("node-placement.nodes", "node-capacity.allocatable"):
        assert (f"  {key}: required: a stack's nodes come from its stack file; run with its generated config, "
                "--policy-pack-config policies/config.<stack>.json (make policy-config writes it), or disable "
                f"{key.split('.')[0]}") in result.stderr
    disabled = tmp_path / "disabled.json"
    disabled.write_text(json.dumps({"node-placement": "disabled", "node-capacity": "disabled"}))
    assert run(clean, "--config", str(disabled)).returncode == 0


@pytest.mark.parametrize("content, message", [
    (None, "{path}: cannot read (FileNotFoundError: [Errno 2] No such file or directory: '{path}')"),
    ("a: 1\n b: 2\n", "{path}: not valid YAML/JSON (mapping values are not allowed in this context)"),
    ("just a string\n", "{path}: document 1 is not a Kubernetes object (no kind/apiVersion)"),
    ("apiVersion: v1\nkind: ConfigMap\n---\n- 1\n", "{path}: document 2 is not a Kubernetes object (no kind/apiVersion)"),
    ("apiVersion: v1\nkind: ConfigMap\n---\napiVersion: v1\nkind: List\nitems: {a: 1}\n",
     "{path}: document 2 is a List whose items are not a list"),
], ids=["missing", "bad-yaml", "scalar", "list-document", "list-items-not-a-list"])
def test_unreadable_input_exits_2_and_says_why_in_one_line(tmp_path, content, message):
    path = tmp_path / ("missing.yaml" if content is None else "bad.yaml")
    if content is not None:
        path.write_text(content)
    result = run(str(path))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"policies.check: {message.format(path=path)}\n"


def test_empty_documents_before_objects_are_skipped(tmp_path):
    """A leading ``---`` (or an empty document between two) hides no object from the check."""
    path = tmp_path / "leading.yaml"
    path.write_text("---\n---\n" + yaml.safe_dump_all(manifests(), sort_keys=False))
    result = run(str(path))
    assert (result.returncode, result.stdout) == (0, "")
    assert f"{len(manifests())} objects, 0 mandatory and 0 advisory violations" in result.stderr


@pytest.mark.parametrize("content, lines", [
    ("{not json", ["{cfg}: cannot read policy config (Expecting property name enclosed in double quotes: "
                   "line 1 column 2 (char 1))"]),
    ("[]", ["{cfg}: policy config must be a JSON object, got list"]),
    (json.dumps(with_prod({"health-probes": {"exemptContainers": "web"}})),
     ["{cfg}: invalid policy config:", '  health-probes.exemptContainers: expected array, got "web"']),
], ids=["not-json", "not-an-object", "bad-value"])
def test_bad_config_exits_2_and_says_why(tmp_path, clean, content, lines):
    cfg = tmp_path / "policy-config.json"
    cfg.write_text(content)
    result = run(clean, "--config", str(cfg))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [f"policies.check: {lines[0].format(cfg=cfg)}", *lines[1:]]


@pytest.mark.parametrize("content", ["", "---\n", "# nothing but a comment\n", "apiVersion: v1\nkind: List\nitems: []\n",
                                     "apiVersion: v1\nkind: List\n"])
def test_empty_input_is_refused(tmp_path, clean, content):
    """A truncated render must not pass the gate: a file with no object is an input error."""
    empty = tmp_path / "empty.yaml"
    empty.write_text(content)
    for args in ([str(empty)], [clean, str(empty)]):
        result = run(*args)
        assert (result.returncode, result.stdout) == (2, "")
        assert "empty.yaml: no Kubernetes objects" in result.stderr


def test_empty_stdin_is_refused():
    result = run("-", stdin="")
    assert result.returncode == 2 and "-: no Kubernetes objects" in result.stderr


def test_a_config_error_lists_every_problem_under_one_heading(tmp_path, clean):
    cfg = tmp_path / "policy-config.json"
    cfg.write_text(json.dumps(with_prod({"health-probes": {"exemptContainers": "web"}, "helth-probes": "advisory"})))
    result = run(clean, "--config", str(cfg))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        f"policies.check: {cfg}: invalid policy config:",
        f"  helth-probes: unknown policy (known: {', '.join(sorted(r.name for r in RULES))})",
        '  health-probes.exemptContainers: expected array, got "web"',
    ]


def test_json_errors_are_printed_indented_like_the_violations(tmp_path):
    missing = tmp_path / "missing.yaml"
    result = run(str(missing), "--json")
    error = {"error": f"{missing}: cannot read (FileNotFoundError: [Errno 2] No such file or directory: '{missing}')",
             "problems": []}
    assert (result.returncode, result.stdout) == (2, json.dumps(error, indent=2) + "\n")


def test_help_names_the_command_its_arguments_and_options():
    out = io.StringIO()
    with contextlib.redirect_stdout(out), mock.patch.dict("os.environ", {"COLUMNS": "100"}), \
            pytest.raises(SystemExit) as exited:
        check.main(["--help"])
    assert exited.value.code == 0
    lines = [" ".join(line.split()) for line in out.getvalue().splitlines()]
    assert lines[0] == "usage: python -m policies.check [-h] [--json] [--config FILE] FILE [FILE ...]"
    assert " ".join(out.getvalue().split()).count(
        "Run the policy pack on Kubernetes manifests, offline: ``python -m policies.check FILE... "
        "[--json] [--config FILE]``.") == 1
    for option in ("FILE manifest files (YAML or JSON; - for stdin)", "--json print the violations as a JSON array",
                   "--config FILE policy config (the --policy-pack-config JSON)"):
        assert option in lines


def test_json_input_errors_are_a_json_object_on_stdout(tmp_path, clean):
    missing = run(str(tmp_path / "missing.yaml"), "--json")
    assert missing.returncode == 2
    error = json.loads(missing.stdout)
    assert error["problems"] == [] and "missing.yaml: cannot read" in error["error"]
    cfg = tmp_path / "policy-config.json"
    cfg.write_text('{"health-probes": {"exemptContainers": "web"}, "helth-probes": "advisory"}')
    bad = run(clean, "--json", "--config", str(cfg))
    assert bad.returncode == 2
    error = json.loads(bad.stdout)
    assert error["error"] == f"{cfg}: invalid policy config"
    assert any(p.startswith("helth-probes: unknown policy") for p in error["problems"])
    assert 'health-probes.exemptContainers: expected array, got "web"' in error["problems"]


def test_a_malformed_manifest_is_a_finding(tmp_path):
    docs = mutate(manifests(), WEB, ("spec", "template", "spec", "containers"), "oops")
    result = run(write(tmp_path / "oops.yaml", docs))
    assert result.returncode == 1
    assert "mandatory well-formed-pod-spec Deployment/ai-qtrd-web: containers is 'oops', not a list" in result.stdout


def test_findings_name_the_file_when_several_files_are_checked(tmp_path, broken):
    docs = manifests()
    secrets = write(tmp_path / "secrets.yaml", [d for d in docs if d["kind"] == "Secret"])
    result = run(secrets, broken)
    # broken.yaml has its own copy of the Secret: the pair is still one stack, names may repeat
    assert result.returncode == 1
    assert f"{broken}: {NO_LIMITS}" in result.stdout.splitlines()
    as_json = json.loads(run(secrets, broken, "--json").stdout)
    assert {v["file"] for v in as_json if v["policy"] == "container-resources"} == {broken}
    alone = run(broken)
    assert alone.stdout.splitlines() == [NO_LIMITS] and "file" not in json.loads(run(broken, "--json").stdout)[0]
