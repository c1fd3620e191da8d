"""Entry point of the policy pack: builds the PolicyPack, which serves the engine until stopped.

The CLI runs ``python -u -m pulumi.policy <engine> <pack directory>`` from the pack's own venv
(``virtualenv: venv`` in PulumiPolicy.yaml; for a published pack the CLI creates it from
``requirements.txt``). That executes this file as a script with the pack directory on
``sys.path``, under whatever name the directory has (a published pack lives in
``~/.pulumi/policies/<org>/<name>/<version>``): load the directory as the package ``policies``
so its modules import each other as a package, and take the directory off ``sys.path`` so its
module names (``config``, ``stack``, ...) shadow nothing.
"""

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if "policies" not in sys.modules:
    spec = importlib.util.spec_from_file_location(
        "policies", HERE / "__init__.py", submodule_search_locations=[str(HERE)]
    )
    assert spec is not None and spec.loader is not None
    sys.modules["policies"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sys.modules["policies"])

from policies import pack  # noqa: E402

pack.serve()
