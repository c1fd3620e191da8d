"""Lay out ``../shared`` on a GitHub runner: the CRD and project schemas the tests validate against.

``python .github/workflows/shared_schemas.py ../shared`` downloads each upstream file at a
pinned tag or commit, refuses any whose SHA-256 differs from the one written here, and
converts each CRD version's ``openAPIV3Schema`` into a strict draft-07 JSON Schema the way
``../shared/crds/README.md`` describes (kubeconform's ``<kind>_<group>_<version>.json`` names;
an object that lists its properties rejects unknown fields unless it preserves them). With
``--from DIR`` it reads ``DIR/<project>-<version>/<file>`` instead of downloading (the tests use
this on the copy of the upstream files this project's own CI keeps).

Standard library only: it runs before any venv exists.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any, NamedTuple

TRAEFIK_DOCS = "docs/content/reference/dynamic-configuration"


class Source(NamedTuple):
    repo: str
    ref: str
    folder: str
    files: dict[str, str]
    """File name -> SHA-256 of its content at ``ref``."""

    @property
    def local(self) -> str:
        """The folder name in ``crds/upstream`` (``traefik_traefik-v3.7.9``)."""
        return f"{self.repo.replace('/', '_')}-{self.ref}"


CRDS = [
    Source("traefik/traefik", "v3.7.9", TRAEFIK_DOCS, {
        "kubernetes-crd-definition-v1.yml": "1d5e8558803804562238b0d4a57174aadd6d87c36e3c4c55199ebcc356a9406c",
    }),
    Source("traefik/traefik", "v2.11.53", TRAEFIK_DOCS, {
        "traefik.containo.us_ingressroutes.yaml": "8595dec199c59f24e95aece63d749ee84a6c30b441ecf8d533c4602a2ce493c5",
        "traefik.containo.us_ingressroutetcps.yaml": "4e4be6c7380c12cdd01574388328ef1858f071d2b276e7fe7b7cbeb013a1f9db",
        "traefik.containo.us_ingressrouteudps.yaml": "5c3d1575eefa825a1fb00e33e8b58dcc90fe0313d32941539eefae5d5ce1179f",
        "traefik.containo.us_middlewares.yaml": "6ae6106b088c1090747236b40a062f8b7ea861f564576af3620950df88b0f545",
        "traefik.containo.us_middlewaretcps.yaml": "6cf9249a0c23f013e6bb61dcb6e168c0d2db0d9031b23880bc100feecffd6a54",
        "traefik.containo.us_serverstransports.yaml": "31c001fdb4fd716cd5623f14e2d28a044604fe56fd3c040f449d446a6b51693e",
        "traefik.containo.us_tlsoptions.yaml": "a64cd9c7cad93bcc8b0e00445013bc11df7507a12df6577055e98b3a2c651700",
        "traefik.containo.us_tlsstores.yaml": "6a1541b6e1a4f18183ac0ba1df991aff2487974f3c5d997eff3aba8114c10bb5",
        "traefik.containo.us_traefikservices.yaml": "1a4673739b3c8c10ad9b63d5885c01abe7bf021a92b4fb764490dd43cc310938",
        "traefik.io_ingressroutes.yaml": "e13e2ac1937a663d974e33472f63cc352a2bdd530afcc3874b5b0832a57d9f86",
        "traefik.io_ingressroutetcps.yaml": "7121a3898d6e1634668f0a5c106dfe5d466d58dd13890baafe4ed279e25e67fa",
        "traefik.io_ingressrouteudps.yaml": "30a76461651902987e8c6b823b2fe4cd6bdbe89c2ad8228f956d4865e1ce8367",
        "traefik.io_middlewares.yaml": "d8042314e455cc5dda2e160928147cb4f0d0f756fa56ee534d8c6aa359642dd1",
        "traefik.io_middlewaretcps.yaml": "d7db21890f58f6109a0ab5ffdc4f865aebb937e3f8b23c2833814a1db9440681",
        "traefik.io_serverstransports.yaml": "59a9d36d3a1c2ba5a88e4e66bd23665b2acf7b3a98723268fb262956a9c5a1b2",
        "traefik.io_tlsoptions.yaml": "f34aec8bb21e311cb5e914f6c0b04083f2809fed1ed485717094c998c7a3ccf6",
        "traefik.io_tlsstores.yaml": "24ebbea8a25af6e3c95b3394900455267e9aa1611d18a05832691ed98b8efcd7",
        "traefik.io_traefikservices.yaml": "29624a3894df1a16c99589601fdfa210797dc64ac44acf64dab8d29421ca0fd1",
    }),
    Source("cert-manager/cert-manager", "v1.21.1", "deploy/crds", {
        "cert-manager.io_certificaterequests.yaml": "74cf3801ab146a1745498de5f3b619cde6f2dc89ae03755084be08129ce726c3",
        "cert-manager.io_certificates.yaml": "7ad91029c00ec959d54215b19d3b1a9b7e0247eaa60f987151c2b70d8661f8af",
        "cert-manager.io_clusterissuers.yaml": "30008001b78aafb8e110af61359561104b5fafc3a4dc6ac0013245d0ee3fe4ca",
        "cert-manager.io_issuers.yaml": "05e37efb02777e0362d24269fa103c2fc11419f9c85e31854ef873e5d9e5c5cc",
    }),
]
#: Traefik 2's ``traefik.io`` schemas go to a subfolder: the top level holds Traefik 3's (what K3s bundles).
SUBFOLDER = {("v2.11.53", "traefik.io"): "traefik-v2.11.53"}
#: The Pulumi CLI's schema for Pulumi.yaml, at a pinned commit of pulumi/pulumi.
PROJECT = Source("pulumi/pulumi", "280839534c902ee76b7ad4b65fe2b37e291ede89", "sdk/go/common/workspace", {
    "project.json": "55b50752803a9b595675fa3119e710f91e907821deef1674e9e25e7b5ebc5daf",
})


class ChecksumError(Exception):
    pass


def fetch(source: Source, name: str, mirror: Path | None) -> bytes:
    if mirror is not None:
        data = (mirror / source.local / name).read_bytes()
    else:
        url = f"https://raw.githubusercontent.com/{source.repo}/{source.ref}/{source.folder}/{name}"
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (a fixed https URL)
            data = response.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != source.files[name]:
        raise ChecksumError(f"{source.repo}@{source.ref} {name}: SHA-256 {digest}, expected {source.files[name]}")
    return data


def strict(node: Any) -> Any:
    """Objects that list their properties reject unknown fields (unless Kubernetes preserves them)."""
    if isinstance(node, dict):
        node = {k: strict(v) for k, v in node.items()}
        if "properties" in node and "additionalProperties" not in node and not node.get(
            "x-kubernetes-preserve-unknown-fields"
        ):
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [strict(v) for v in node]
    return node


def convert(source: Source, name: str, text: str, out: Path) -> list[Path]:
    import yaml  # PyYAML: preinstalled on GitHub's runners; imported late so --help works without it

    written = []
    for crd in yaml.safe_load_all(text):
        if not crd or crd.get("kind") != "CustomResourceDefinition":
            continue
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "$comment": (
                    f"{group}/{version['name']} {kind} from {name} ({source.repo}@{source.ref} {source.folder}, "
                    f"CRD {crd['metadata']['name']})"
                ),
                **strict(version["schema"]["openAPIV3Schema"]),
            }
            folder = out / SUBFOLDER.get((source.ref, group), "")
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{kind.lower()}_{group}_{version['name']}.json"
            path.write_text(json.dumps(schema, indent=1) + "\n")
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shared", type=Path, help="the folder to fill (../shared from the checkout)")
    parser.add_argument("--from", dest="mirror", type=Path, help="read upstream files from here, not the network")
    parser.add_argument("--only", choices=("crds", "schemas"), help="lay out only one of the two folders")
    args = parser.parse_args(argv)
    try:
        if args.only in (None, "crds"):
            count = 0
            for source in CRDS:
                for name in source.files:
                    data = fetch(source, name, args.mirror)
                    upstream = args.shared / "crds" / "upstream" / source.local
                    upstream.mkdir(parents=True, exist_ok=True)
                    (upstream / name).write_bytes(data)
                    count += len(convert(source, name, data.decode(), args.shared / "crds" / "json-schemas"))
            print(f"shared_schemas: {count} CRD schemas in {args.shared / 'crds' / 'json-schemas'}")
        if args.only in (None, "schemas"):
            target = args.shared / "schemas"
            target.mkdir(parents=True, exist_ok=True)
            (target / "pulumi-project.json").write_bytes(fetch(PROJECT, "project.json", args.mirror))
            print(f"shared_schemas: {target / 'pulumi-project.json'}")
    except (ChecksumError, OSError) as exc:
        print(f"shared_schemas: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
