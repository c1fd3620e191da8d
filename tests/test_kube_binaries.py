"""Where the kube tier's binaries come from (tests/kube/binaries.py): KUBEBUILDER_ASSETS first,
else ../shared's archives unpacked into a verified cache; absent, the tier skips (fails in CI)."""

from __future__ import annotations

import hashlib
import lzma

import pytest

from . import conftest
from .kube import binaries


def shared(tmp_path, corrupt: str = ""):
    source = tmp_path / "shared"
    source.mkdir()
    sums = []
    for name in binaries.BINARIES:
        body = f"#!/bin/sh\necho {name}\n".encode()
        (source / f"{name}.xz").write_bytes(lzma.compress(body + (b"tampered" if name == corrupt else b"")))
        sums.append(f"{hashlib.sha256(body).hexdigest()}  {name}")
    (source / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    return source


def test_archives_unpack_into_a_verified_cache_that_is_reused(tmp_path):
    cache = tmp_path / "cache"
    assert binaries.locate(shared(tmp_path), cache, assets="") == cache
    assert sorted(p.name for p in cache.iterdir()) == sorted(binaries.BINARIES)
    assert all((cache / b).stat().st_mode & 0o111 for b in binaries.BINARIES)
    stamps = {b: (cache / b).stat().st_mtime_ns for b in binaries.BINARIES}
    binaries.locate(tmp_path / "shared", cache, assets="")
    assert {b: (cache / b).stat().st_mtime_ns for b in binaries.BINARIES} == stamps


def test_an_archive_that_does_not_match_its_checksum_is_refused_and_not_cached(tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(binaries.Unavailable, match="kube-scheduler.xz unpacks to sha256 .* SHA256SUMS says"):
        binaries.locate(shared(tmp_path, corrupt="kube-scheduler"), cache, assets="")
    assert not (cache / "kube-scheduler").exists()


def test_kubebuilder_assets_wins_and_must_hold_all_four(tmp_path):
    assets = tmp_path / "assets"
    assets.mkdir()
    for name in ("etcd", "kube-apiserver"):  # what setup-envtest alone provides
        (assets / name).write_text("")
        (assets / name).chmod(0o755)
    with pytest.raises(binaries.Unavailable, match="lacks kube-controller-manager, kube-scheduler"):
        binaries.locate(shared(tmp_path), tmp_path / "cache", assets=str(assets))
    for name in ("kube-controller-manager", "kube-scheduler"):
        (assets / name).write_text("")
        (assets / name).chmod(0o755)
    assert binaries.locate(tmp_path / "shared", tmp_path / "cache", assets=str(assets)) == assets


@pytest.mark.parametrize("in_ci", [False, True])
def test_missing_binaries_skip_with_the_reason_and_fail_in_ci(monkeypatch, tmp_path, in_ci):
    monkeypatch.setattr(conftest, "IN_CI", in_ci)
    monkeypatch.setenv(binaries.ASSETS_ENV, str(tmp_path))
    # Both outcomes caught, so a skip where a failure is due fails this test instead of skipping it.
    with pytest.raises((pytest.fail.Exception, pytest.skip.Exception), match=f"{binaries.ASSETS_ENV}=.* lacks etcd") as info:
        conftest.require_kube_binaries()
    assert info.type is (pytest.fail.Exception if in_ci else pytest.skip.Exception)
