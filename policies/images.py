"""Images (spec 7): pinned tags, and only images already imported on the nodes."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Optional

from .base import Obj, Rule, get, is_unknown, show
from .workloads import KINDS, containers, pod_spec

#: Spec 7: images are imported on the nodes (``k3s ctr images import``); no node pulls from a registry.
#: The pack's own constant: what it enforces must not move when the program's settings do.
REQUIRED_PULL_POLICY = "Never"

#: ``[registry[:port]/]path[:tag][@digest]``: the tag is a ``:`` suffix with no ``/`` in it (a
#: registry's port is followed by one), the digest everything after the first ``@``.
_REFERENCE = re.compile(r"(?P<repository>[^@]*?)(?::(?P<tag>[^:/@]*))?(?:@(?P<digest>.*))?", re.DOTALL)


def image_tag(image: str) -> Optional[str]:
    """The tag of ``registry:5000/repo:tag@digest`` (``None`` for an untagged or digest-only reference)."""
    return _REFERENCE.fullmatch(image)["tag"]  # type: ignore[index]  # every string matches


def _repository(image: str) -> str:
    """``registry:5000/repo:tag@digest`` without tag and digest."""
    return _REFERENCE.fullmatch(image)["repository"]  # type: ignore[index]  # every string matches


def check_image_tag_pinned(obj: Obj, cfg: Mapping[str, Any]) -> Iterator[str]:
    """Every image names a tag (or digest), never latest."""
    for c in containers(pod_spec(obj)):
        image = get(c.body, "image")
        if not isinstance(image, str):
            if image is None:
                yield f"{c.label} has no image"
            continue
        if "@sha256:" in image:
            continue
        tag = image_tag(image)
        if tag is None:
            yield f"{c.label} image {image!r} has no tag (pin a version)"
        elif tag == "latest":
            yield f"{c.label} image {image!r} is tagged 'latest' (pin a version)"


def check_image_pull_never(obj: Obj, cfg: Mapping[str, Any]) -> Iterator[str]:
    """Containers use imagePullPolicy: Never: the cluster pulls from no registry (images are imported)."""
    exceptions = set(cfg["pullPolicyExceptions"])
    for c in containers(pod_spec(obj)):
        image = get(c.body, "image")
        policy = get(c.body, "imagePullPolicy")
        if policy == REQUIRED_PULL_POLICY or is_unknown(policy) or not isinstance(image, str):
            continue
        if image in exceptions or _repository(image) in exceptions:
            continue
        # Absent means Always for untagged/latest images and IfNotPresent otherwise: both may pull.
        now = "unset (defaults to IfNotPresent or Always, which may pull)" if policy is None else show(policy)
        yield f"{c.label} imagePullPolicy is {now}, must be {REQUIRED_PULL_POLICY!r} (image {image!r})"


RULES = [
    Rule("image-tag-pinned", check_image_tag_pinned, kinds=KINDS),
    Rule("image-pull-never", check_image_pull_never, keys=("pullPolicyExceptions",), kinds=KINDS),
]
