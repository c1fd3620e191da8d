"""Run a real Traefik on loopback from rendered IngressRoutes, for routing tests.

``dynamic_config`` translates the rendered CRDs to Traefik's file-provider configuration
without interpreting them: rules and priorities are copied verbatim, Middleware specs are
copied under their (identical) file-provider names, and each Kubernetes Service becomes a
loopback stub. What the CRD provider adds on a cluster (certificates from Secrets, endpoint
discovery) is replaced by Traefik's default certificate and the stubs.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

from .conftest import stop_process

Json = dict[str, Any]
#: The Middleware types the routes use; anything else must be added here deliberately.
MIDDLEWARE_TYPES = {"redirectScheme", "headers", "rateLimit"}
STUB_PATH_HEADER = "X-Stub-Path"
READY_TIMEOUT_SECONDS = 30.0
ENTRY_POINTS = ("web", "websecure")


def _key(namespace: str, name: str) -> str:
    return f"{namespace}-{name}"


def service_key(namespace: str, name: str, port: int) -> str:
    return f"{namespace}-{name}-{port}"


def dynamic_config(manifests: list[Json], upstreams: Mapping[str, str], extra_routers: Optional[Json] = None) -> Json:
    """File-provider config for the IngressRoutes, Middlewares and TLSOptions in ``manifests``.

    ``upstreams`` maps :func:`service_key` of each referenced Service to its stub URL;
    ``extra_routers`` are routers (with a ``url`` instead of a ``service``) added as they are.
    """
    routers: Json = {}
    middlewares: Json = {}
    services: Json = {}
    tls_options: Json = {}
    for doc in manifests:
        kind, meta, spec = doc["kind"], doc["metadata"], doc.get("spec", {})
        ns = meta["namespace"]
        if kind == "Middleware":
            unknown = set(spec) - MIDDLEWARE_TYPES
            assert not unknown, f"Middleware/{meta['name']}: translator does not map {sorted(unknown)}"
            middlewares[_key(ns, meta["name"])] = spec
        elif kind == "TLSOption":
            tls_options[_key(ns, meta["name"])] = spec
        elif kind == "IngressRoute":
            for index, route in enumerate(spec["routes"]):
                (service,) = route["services"]
                if service.get("kind") == "TraefikService":
                    assert service["name"].endswith("@internal"), f"unsupported TraefikService {service['name']}"
                    target = service["name"]
                else:
                    target = service_key(service.get("namespace", ns), service["name"], service["port"])
                    services[target] = {"loadBalancer": {"servers": [{"url": upstreams[target]}]}}
                router: Json = {
                    "entryPoints": spec["entryPoints"],
                    "rule": route["match"],
                    "service": target,
                    "middlewares": [_key(m.get("namespace", ns), m["name"]) for m in route.get("middlewares", [])],
                }
                if "priority" in route:  # absent: Traefik ranks by rule length, as on the cluster
                    router["priority"] = route["priority"]
                if "tls" in spec:
                    option = spec["tls"].get("options")
                    router["tls"] = {"options": _key(option.get("namespace", ns), option["name"])} if option else {}
                routers[f"{_key(ns, meta['name'])}-{index}"] = router
    for name, router in (extra_routers or {}).items():
        services[name] = {"loadBalancer": {"servers": [{"url": router["url"]}]}}
        routers[name] = {k: v for k, v in router.items() if k != "url"} | {"service": name}
    out: Json = {"http": {"routers": routers, "middlewares": middlewares, "services": services}}
    if tls_options:
        out["tls"] = {"options": tls_options}
    return out


# --- stub upstreams ----------------------------------------------------------------------------


class _StubHandler(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = self.server.stub_name.encode()  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header(STUB_PATH_HEADER, self.path)
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def stub_servers(names: list[str]) -> Iterator[dict[str, str]]:
    """One loopback HTTP server per name, answering every request with its name; yields name -> URL."""
    servers = []
    try:
        for name in names:
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StubHandler)
            server.stub_name = name  # type: ignore[attr-defined]
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)
        yield {s.stub_name: f"http://127.0.0.1:{s.server_address[1]}" for s in servers}  # type: ignore[attr-defined]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


# --- Traefik -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Edge:
    """A running Traefik: its entry points on loopback."""

    web: int
    websecure: int
    routers: frozenset[str]
    """Names of the routers Traefik loaded (``<name>@file``)."""
    access_log: Path
    """Traefik's JSON access log: one line per request, with the ``RouterName`` that served it."""

    def routers_used(self, requests: int) -> set[str]:
        """Routers that served requests so far, once at least ``requests`` lines are logged."""
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        lines: list[str] = []
        while time.monotonic() < deadline:
            text = self.access_log.read_text() if self.access_log.exists() else ""
            # addInternals also logs the readiness polls on the API entry point: leave those out.
            lines = [line for line in text.splitlines() if json.loads(line).get("entryPointName") in ENTRY_POINTS]
            if len(lines) >= requests:
                break
            time.sleep(0.1)
        return {json.loads(line).get("RouterName", "") for line in lines} - {""}

    def request(self, scheme: str, host: str, path: str, method: str = "GET") -> tuple[int, dict[str, str], str]:
        """One request with ``Host`` (and, over TLS, SNI) ``host``; redirects are not followed."""
        if scheme == "https":
            conn: http.client.HTTPConnection = _SniConnection(self.websecure, host)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.web, timeout=5)
        try:
            conn.request(method, path, body=b"{}" if method in ("POST", "PUT") else None, headers={"Host": host})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
        finally:
            conn.close()


class _SniConnection(http.client.HTTPSConnection):
    """HTTPS to loopback that still sends the public host name as SNI (Traefik picks TLS options by it)."""

    def __init__(self, port: int, sni: str):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # Traefik's default self-signed certificate
        super().__init__("127.0.0.1", port, timeout=5, context=context)
        self._sni = sni

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._sni)  # type: ignore[attr-defined]


def _routers_state(api_port: int) -> Optional[list[Json]]:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", api_port, timeout=2)
        conn.request("GET", "/api/http/routers?per_page=1000")
        response = conn.getresponse()
        body = response.read()
        conn.close()
        return json.loads(body) if response.status == 200 else None
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def running_traefik(binary: str, dynamic: Json, workdir: Path) -> Iterator[Edge]:
    """Start Traefik with ``dynamic`` as its file provider; yield once every router is enabled."""
    web, websecure, api = free_port(), free_port(), free_port()
    dynamic_file = workdir / "dynamic.yaml"
    dynamic_file.write_text(yaml.safe_dump(dynamic, sort_keys=False))
    log_file = workdir / "traefik.log"
    args = [
        binary,
        f"--entryPoints.web.address=127.0.0.1:{web}",
        f"--entryPoints.websecure.address=127.0.0.1:{websecure}",
        f"--entryPoints.traefik.address=127.0.0.1:{api}",
        "--api.insecure=true",
        f"--providers.file.filename={dynamic_file}",
        "--global.checkNewVersion=false",
        "--global.sendAnonymousUsage=false",
        "--log.level=INFO",
        "--accessLog=true",
        "--accessLog.format=json",
        "--accessLog.addInternals=true",  # the redirect router ends in noop@internal
        f"--accessLog.filePath={workdir / 'access.log'}",
    ]
    expected = {f"{name}@file" for name in dynamic["http"]["routers"]}
    with open(log_file, "wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        state: Optional[list[Json]] = None
        while time.monotonic() < deadline and process.poll() is None:
            state = _routers_state(api)
            seen = {r["name"]: r for r in state or []}
            if expected <= seen.keys():
                broken = {n: seen[n].get("error") for n in expected if seen[n].get("status") != "enabled"}
                assert not broken, f"Traefik rejected routers: {broken}\n{log_file.read_text()[-4000:]}"
                break
            time.sleep(0.1)
        else:
            raise AssertionError(
                f"Traefik not ready within {READY_TIMEOUT_SECONDS}s (exit code {process.poll()}); "
                f"routers seen: {[r['name'] for r in state or []]}\n{log_file.read_text()[-4000:]}"
            )
        yield Edge(web, websecure, frozenset(expected), workdir / "access.log")
    finally:
        stop_process(process)
