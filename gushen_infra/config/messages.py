"""How a config problem is worded: the error, the key and quoted value, the command that fixes it."""

from __future__ import annotations

import difflib
import json
import re
import typing
from collections.abc import Mapping
from typing import Any, Optional

import pulumi
from pydantic import BaseModel

from .keys import NAMESPACE, SECRET_KEYS
from .settings import Settings


class ConfigError(pulumi.RunError):
    """Invalid stack config; ``problems`` holds one message per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid stack config:\n  " + "\n  ".join(problems))


def _quote(value: Any) -> str:
    if isinstance(value, (dict, list)):
        text = json.dumps(value, sort_keys=True)
        return text if len(text) <= 80 else text[:77] + "..."
    return repr(value)


def _model_in(annotation: Any) -> Optional[type[BaseModel]]:
    """The settings model inside a field's type (``Optional[X]``, ``list[X]``, ``Annotated[X, ...]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((m for m in map(_model_in, typing.get_args(annotation)) if m is not None), None)


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _keys_at(loc: list[str]) -> list[str]:
    """The keys allowed beside ``loc[-1]`` (the model that holds it), for a did-you-mean.

    A part of ``loc`` that names no field is a list index or a dict key (a node's name in
    ``clusterNodes``): an item of the field before it, whose model already stands for it."""
    model: Optional[type[BaseModel]] = Settings
    for part in loc[:-1]:
        fields = {field.alias or name: field for name, field in model.model_fields.items()}  # type: ignore[union-attr]
        if part in fields:
            # Only a model refuses an unknown key, so every field on the way holds one.
            model = _model_in(fields[part].annotation)
    keys = _keys_of(model)  # type: ignore[arg-type]
    return keys + list(SECRET_KEYS) if len(loc) == 1 else keys


#: What a message shows instead of a value Pulumi holds as a secret (a typo'd secret key's value
#: would otherwise be printed decrypted, into CI logs among others).
SECRET_SHOWN = "[secret]"


def _format(error: Mapping[str, Any], secret: bool) -> str:
    """One problem pydantic found, naming the key and quoting the value (unless it is a secret)."""
    shown = SECRET_SHOWN if secret else _quote(error["input"])
    loc = [str(part) for part in error["loc"]]
    key = f"{NAMESPACE}:" + ".".join(loc)
    kind = error["type"]
    if kind == "missing":
        return f"{key}: required key is missing"
    if kind == "extra_forbidden":
        hint = difflib.get_close_matches(loc[-1], _keys_at(loc))  # best first
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else " (a typo?)"
        return f"{key}: unknown key{suggestion}, value {shown}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{key}: {message} (got {shown})"


def _set_command(key: str, value: str = "<value>") -> str:
    """The CLI command that sets a (dotted) key, list items as ``[i]`` as ``--path`` spells them."""
    path = re.sub(r"\.([0-9]+)(?=\.|$)", r"[\1]", key)
    flag = " --path" if "." in key else ""
    return f"pulumi config set{flag} '{NAMESPACE}:{path}' {value}"
