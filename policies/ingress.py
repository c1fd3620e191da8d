"""Traefik IngressRoutes (spec 4): HTTPS with a certificate, plain HTTP only to redirect, no dangling references.

Both Traefik API groups count: ``traefik.io/v1alpha1`` and ``traefik.containo.us/v1alpha1``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Optional

from .base import UNKNOWN, Obj, Rule, get, is_unknown, items, mapping, show
from .stack import TRAEFIK_GROUPS, Stack

ROUTE_KINDS = frozenset({"IngressRoute", "IngressRouteTCP"})
#: cert-manager's HTTP-01 solver answers on plain HTTP; a route for it must not redirect.
ACME_PATH = "/.well-known/acme-challenge"


def _is_traefik(obj: Obj) -> bool:
    return obj.group in TRAEFIK_GROUPS


#: What precedes Traefik's ``@provider`` suffix (object names hold no ``@``).
_BASE_NAME = re.compile(r"[^@]*")


def _base_name(name: str) -> str:
    """``redirect-https``, also from the provider form ``<ns>-redirect-https@kubernetescrd``."""
    return _BASE_NAME.match(name)[0]  # type: ignore[index]  # every string matches


def _redirects(route: Any, redirects: list[str]) -> bool:
    middlewares = get(route, "middlewares")
    if is_unknown(middlewares):
        return True  # computed during preview (or the whole route is): it may hold the redirect
    for ref in items(middlewares):
        name = get(ref, "name")
        if isinstance(name, str) and any(
            _base_name(name) == r or _base_name(name).endswith("-" + r) for r in redirects
        ):
            return True
        if is_unknown(name):
            return True  # computed during preview: give it the benefit of the doubt
    return False


def check_ingressroute_tls(obj: Obj, cfg: Mapping[str, Any]) -> Iterator[str]:
    """IngressRoutes on the HTTPS entry point terminate TLS with a certificate; plain-HTTP routes only redirect to HTTPS."""
    if not _is_traefik(obj):  # the rule's kinds hold only IngressRoute
        return
    entry_points = get(obj.body, "spec", "entryPoints")
    if is_unknown(entry_points):
        return  # unknown during preview (or the whole spec is): whether HTTPS or plain HTTP is not known
    entry_points = items(entry_points)
    # No entryPoints means every entry point: the route is then both HTTPS and plain HTTP.
    secure = not entry_points or any(e in cfg["secureEntryPoints"] for e in entry_points)
    plain_http = not entry_points or any(e in cfg["plainEntryPoints"] for e in entry_points)
    tls = obj.spec.get("tls")
    if secure and not is_unknown(tls):
        certificate = [mapping(tls).get(k) for k in ("secretName", "certResolver", "store")]
        if not any(c or is_unknown(c) for c in certificate):
            yield "serves HTTPS without tls.secretName (or certResolver/store): clients would get no valid certificate"
    if plain_http:
        for i, route in enumerate(items(obj.spec.get("routes"))):
            match = get(route, "match")
            if is_unknown(match) or isinstance(match, str) and ACME_PATH in match:
                continue  # an ACME solver's route, or may be one (unknown during preview)
            if not _redirects(route, cfg["redirectMiddlewares"]):
                yield (
                    f"routes[{i}] ({show(match)}) serves plain HTTP without a redirect middleware "
                    f"({', '.join(cfg['redirectMiddlewares'])})"
                )


def _service_ports(svc: Obj) -> Optional[tuple[set[str], set[int]]]:
    """The Service's port names and numbers; ``None`` where preview leaves any of them unknown."""
    ports = get(svc.body, "spec", "ports")
    if is_unknown(ports) or any(is_unknown(get(p, f)) for p in items(ports) for f in ("name", "port")):
        return None
    ports = items(ports)
    return (
        {p["name"] for p in ports if isinstance(get(p, "name"), str)},
        {p["port"] for p in ports if isinstance(get(p, "port"), int)},
    )


def check_ingressroute_references(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[tuple[Obj, str]]:
    """IngressRoute services, middlewares, TLS secrets and TLS options name objects (and Service ports) of the stack."""
    for kind in sorted(ROUTE_KINDS):
        for route_obj in stack.by_kind.get(kind, []):
            if not _is_traefik(route_obj):
                continue
            ns = route_obj.namespace
            middleware_kind = "MiddlewareTCP" if kind == "IngressRouteTCP" else "Middleware"
            for i, route in enumerate(items(route_obj.spec.get("routes"))):
                for ref in items(get(route, "services")):
                    yield from _service_ref(stack, route_obj, i, ref)
                for ref in items(get(route, "middlewares")):
                    name = get(ref, "name")
                    if isinstance(name, str) and "@" not in name:
                        where = get(ref, "namespace") if isinstance(get(ref, "namespace"), str) else ns
                        if stack.traefik(middleware_kind, where, name) is None:
                            yield route_obj, f"routes[{i}] uses middleware {name!r}, not a {middleware_kind} of the stack"
            tls = mapping(route_obj.spec.get("tls"))
            secret = tls.get("secretName")
            if isinstance(secret, str) and stack.data_keys("Secret", ns, secret) is None:
                yield route_obj, f"tls.secretName {secret!r} is neither a Secret nor a Certificate's secret in the stack"
            option = get(tls, "options", "name")
            if isinstance(option, str) and "@" not in option:
                where = get(tls, "options", "namespace")
                if stack.traefik("TLSOption", where if isinstance(where, str) else ns, option) is None:
                    yield route_obj, f"tls.options names {option!r}, not a TLSOption of the stack"


def _service_ref(stack: Stack, route_obj: Obj, i: int, ref: Any) -> Iterator[tuple[Obj, str]]:
    name, port = get(ref, "name"), get(ref, "port")
    if get(ref, "kind") not in (None, "Service") or not isinstance(name, str):
        return  # TraefikService (e.g. noop@internal) or unknown during preview
    ns = get(ref, "namespace") if isinstance(get(ref, "namespace"), str) else route_obj.namespace
    svc = stack.find("Service", ns, name)
    if svc is None:
        yield route_obj, f"routes[{i}] sends to Service {name!r}, which the stack does not define"
        return
    if is_unknown(port):
        return
    if port is None or port == "" or port == 0:
        yield route_obj, f"routes[{i}] sends to Service {name!r} without a port"
        return
    if is_unknown(svc):
        return  # a Service whose name is unknown during preview may be it
    ports = _service_ports(svc)
    if ports is None:
        return
    # An ExternalName Service (which one whose type is unknown during preview may be) has no port list.
    if get(svc.body, "spec", "type") in ("ExternalName", UNKNOWN) and isinstance(port, int):
        return
    names, numbers = ports
    if port not in (names if isinstance(port, str) else numbers):
        yield route_obj, f"routes[{i}] sends to port {show(port)} of Service {name!r}, which has no such port"


RULES = [
    Rule(
        "ingressroute-tls", check_ingressroute_tls,
        keys=("secureEntryPoints", "plainEntryPoints", "redirectMiddlewares"), kinds=frozenset({"IngressRoute"}),
    ),
    Rule("ingressroute-references", check_ingressroute_references, stack=True),
]
