"""What ``python -m gushen_infra.render`` imports: the parts of the Pulumi SDK a render never uses
wait until something uses them (gushen_infra/render.py, ``DEFERRED_MODULES``)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

from gushen_infra import render

from .conftest import ROOT

#: Runs the render as ``python -m`` does (as ``__main__``), then reports on the deferred modules.
PROBE = """
import json, runpy, sys
sys.argv = ["render", "--stack", "prod", "--out", sys.argv[1], "--check"]
try:
    runpy.run_module("gushen_infra.render", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
state = {name: type(sys.modules[name]).__name__ for name in sorted(%r)}
import pulumi
from pulumi.automation import LocalWorkspace  # first use: the module loads now
from pulumi.dynamic import ResourceProvider
loaded = {name: type(sys.modules[name]).__name__ for name in sorted(%r)}
print(json.dumps({"code": code, "during": state, "after_use": loaded,
                  "workspace": LocalWorkspace.__name__, "provider": ResourceProvider.__name__}))
""" % (sorted(render.DEFERRED_MODULES), sorted(render.DEFERRED_MODULES))


def test_a_render_process_defers_what_it_never_uses_and_a_later_use_still_loads_it(tmp_path):
    result = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["code"] == 0
    assert (tmp_path / "manifests.yaml").is_file()
    # imported (pulumi's __init__ binds them) but never executed during the render ...
    assert set(report["during"].values()) == {"_LazyModule"}, report
    # ... and whole modules on first use
    assert set(report["after_use"].values()) == {"module"}, report
    assert (report["workspace"], report["provider"]) == ("LocalWorkspace", "ResourceProvider")


def test_importing_the_render_module_changes_no_import_machinery():
    # tests and the bench import gushen_infra.render: only its own process defers modules and
    # switches the cyclic collector off (the bench's 5,000-object stacks need it)
    assert render._Deferred not in sys.meta_path
    assert gc.isenabled()
