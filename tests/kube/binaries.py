"""Where the control plane's four binaries come from: ``KUBEBUILDER_ASSETS`` or ../shared.

``KUBEBUILDER_ASSETS`` (setup-envtest's directory, official release binaries) wins when set; it
must hold all four. Otherwise the xz archives of ``../shared/tools/kube`` are unpacked into the
git-ignored ``.cache/kube`` and checked against ``SHA256SUMS``; a cache that still matches is
re-used. Python's ``lzma`` unpacks them: no ``xz`` binary is needed.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import shutil
from pathlib import Path
from typing import Optional

BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
ASSETS_ENV = "KUBEBUILDER_ASSETS"


class Unavailable(Exception):
    """The binaries cannot be provided; the message says why and what provides them."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sums(path: Path) -> dict[str, str]:
    sums = {}
    for line in path.read_text().splitlines():
        if line.strip():
            digest, name = line.split()
            sums[name.lstrip("*")] = digest
    return sums


def from_assets(assets: str) -> Path:
    """The directory ``KUBEBUILDER_ASSETS`` names, if all four binaries are executable there."""
    where = Path(assets)
    missing = [b for b in BINARIES if not os.access(where / b, os.X_OK)]
    if missing:
        raise Unavailable(f"{ASSETS_ENV}={assets!r} lacks {', '.join(missing)} (needs all of {', '.join(BINARIES)})")
    return where


def from_shared(source: Path, cache: Path) -> Path:
    """Unpack ``source/<binary>.xz`` into ``cache`` and verify ``source/SHA256SUMS``."""
    sums_file = source / "SHA256SUMS"
    if not sums_file.exists():
        raise Unavailable(f"{sums_file} not present: neither {ASSETS_ENV} nor ../shared/tools/kube provides the binaries")
    sums = _sums(sums_file)
    cache.mkdir(parents=True, exist_ok=True)
    for name in BINARIES:
        target = cache / name
        if name not in sums:
            raise Unavailable(f"{sums_file} has no checksum for {name}")
        if target.exists() and _sha256(target) == sums[name]:
            continue  # a verified cache from an earlier session
        partial = cache / f".{name}.partial"
        with lzma.open(source / f"{name}.xz") as packed, partial.open("wb") as out:
            shutil.copyfileobj(packed, out, 1 << 20)
        got = _sha256(partial)
        if got != sums[name]:
            partial.unlink()
            raise Unavailable(f"{source / (name + '.xz')} unpacks to sha256 {got}, SHA256SUMS says {sums[name]}")
        partial.chmod(0o755)
        partial.replace(target)  # atomic: a cache entry is always a whole, verified binary
    return cache


def locate(source: Path, cache: Path, assets: Optional[str] = None) -> Path:
    """The directory holding the four binaries (``KUBEBUILDER_ASSETS`` first, then ../shared)."""
    assets = os.environ.get(ASSETS_ENV) if assets is None else assets
    return from_assets(assets) if assets else from_shared(source, cache)
