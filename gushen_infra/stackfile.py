"""Reading a stack file (``Pulumi.<stack>.yaml``) as the Pulumi CLI does: a key set twice and a YAML
slip are refused naming the file, line and key; booleans are YAML 1.2's."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from . import config

#: libyaml's parser for the stack file: the pure-Python one was a tenth of a prod run's profile.
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StackFileLoader(SafeLoader):  # libyaml's parser where installed: the render's own time
    """YAML as the Pulumi CLI reads a stack file: a key set twice in one mapping is an error.

    The CLI reads ``Pulumi.<stack>.yaml`` with gopkg.in/yaml.v3 (pulumi/pulumi
    sdk/go/common/encoding/marshal.go, ``yamlMarshaler.Unmarshal``, called by
    ``workspace.LoadProjectStackBytes``), whose decoder checks unique keys (decode.go,
    ``decoder.mapping``: "line N: mapping key ... already defined at line M"), so ``pulumi up``
    refuses such a file; PyYAML would silently keep the last value.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self.duplicates: list[str] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key, line = self.construct_object(key_node, deep=True), key_node.start_mark.line + 1
            try:
                first = seen.setdefault(key, line)
            except TypeError:  # an unhashable key: the base class says what is wrong
                continue
            if first != line:
                self.duplicates.append(f"line {line}: key {key!r} is already set on line {first}")
        return super().construct_mapping(node, deep)


# The CLI's parser, gopkg.in/yaml.v3, reads booleans the YAML 1.2 way: true/false (True, TRUE, ...);
# yes/no/on/off stay strings unless decoded into a typed bool (its README, "Compatibility"), and the
# stack's config values are not. PyYAML's YAML 1.1 would read them as booleans, which `pulumi up`
# would hand to the program as strings: read them as the CLI does, and the config refuses them by name.
_StackFileLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "tTfF":
    _StackFileLoader.yaml_implicit_resolvers.setdefault(_first, []).insert(
        0, ("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"))
    )


def _yaml_problem(path: Path, text: str, exc: yaml.YAMLError) -> str:
    """A parser error as ``Pulumi.prod.yaml: line 12, column 5 (under gushen:web): <what>``.

    The parser only knows the text it was given (``in "<unicode string>"``): the file name, and the
    top-level key the line belongs to, are added here.
    """
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return f"{path.name}: cannot read stack file ({exc})"
    what = ": ".join(part for part in (getattr(exc, "context", None), getattr(exc, "problem", None)) if part)
    lines = text.splitlines()[: mark.line + 1]
    key = next((m[1] for line in reversed(lines) if (m := re.match(r"^  ([^\s#]\S*?):(?:\s|$)", line))), None)
    under = f" (under {key})" if key else ""
    return f"{path.name}: line {mark.line + 1}, column {mark.column + 1}{under}: {what or exc}"


def read_stack_file(path: Path) -> Mapping[str, Any]:
    """The stack file's top-level mapping; :class:`~gushen_infra.config.ConfigError` if it is unreadable."""
    text = ""
    try:
        text = path.read_text()
        loader = _StackFileLoader(text)
        try:
            document = loader.get_single_data() or {}
        finally:
            loader.dispose()
    except (OSError, UnicodeDecodeError) as exc:
        raise config.ConfigError([f"{path.name}: cannot read stack file ({exc})"]) from exc
    except yaml.YAMLError as exc:
        raise config.ConfigError([_yaml_problem(path, text, exc) + " (pulumi refuses the file too)"]) from exc
    if loader.duplicates:
        raise config.ConfigError(
            [f"{path.name}: {d} (pulumi refuses a stack file with a key set twice)" for d in loader.duplicates]
        )
    if not isinstance(document, Mapping) or not isinstance(document.get("config") or {}, Mapping):
        raise config.ConfigError([f"{path.name}: not a stack file (want a mapping with a `config:` mapping)"])
    return document
