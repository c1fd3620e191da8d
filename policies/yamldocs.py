"""``yaml.safe_load_all``'s answer for manifests, built straight from libyaml's parser events.

PyYAML's loader composes a node object for every scalar, map and list, resolves each plain
scalar's tag by regular expressions, then walks the nodes again to build the values: two thirds
of ``python -m policies.check``'s time on a large render. Manifests need none of what the nodes
are for (anchors, aliases, merge keys, explicit tags, complex keys), so :func:`load_all` builds
dicts, lists and scalars from the parser's events in one pass and resolves each distinct plain
text once. The first event outside that subset makes it hand the whole text to PyYAML's
``SafeLoader`` instead, so every input gets exactly ``yaml.safe_load_all``'s documents, or
the error libyaml's loader gives.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)

#: libyaml's parser where PyYAML was built with it (five times the pure-Python one on a render).
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
STR = "tag:yaml.org,2002:str"
#: What a plain scalar may resolve to and this module builds; ``merge`` (``<<``) and ``value``
#: (``=``) mean something only to PyYAML's constructor.
_PLAIN = frozenset(f"tag:yaml.org,2002:{t}" for t in ("str", "null", "bool", "int", "float", "timestamp"))
_NO_KEY = object()
_UNSEEN = object()


class _Unusual(Exception):
    """An event :func:`load_all` leaves to PyYAML."""


def load_all(text: str) -> list[Any]:
    """Every document in ``text`` (``None`` for an empty one), as ``list(yaml.safe_load_all(text))``.

    Raises :class:`yaml.YAMLError` where PyYAML would, with the message its libyaml loader gives.
    """
    try:
        return _build(text)
    except _Unusual:
        return list(yaml.load_all(text, Loader=SafeLoader))


def _build(text: str) -> list[Any]:
    parser = SafeLoader(text)
    try:
        return _documents(parser)
    finally:
        parser.dispose()


def _documents(parser: Any) -> list[Any]:
    next_event = parser.get_event
    plain = _PlainScalars()
    known = plain.values.get  # a C call for the texts seen before, which is nearly all of them
    docs: list[Any] = []
    # The container being filled, the key waiting for its value (in a map), and those of the
    # containers around it; the stream's first document sets the first two.
    current: Any
    key: Any
    outer: list[tuple[Any, Any]] = []
    while True:
        event = next_event()
        kind = type(event)
        if kind is ScalarEvent:
            if event.anchor is not None:
                raise _Unusual
            tag = event.tag
            if tag is None:
                value = event.value
                if event.implicit[0]:
                    value = known(value, _UNSEEN)
                    if value is _UNSEEN:
                        value = plain(event.value)
            elif tag == STR:
                value = event.value
            else:
                raise _Unusual
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            current, key = outer.pop()
            continue
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            if event.anchor is not None or event.tag is not None:
                raise _Unusual
            value = {} if kind is MappingStartEvent else []
            if type(current) is dict:
                if key is _NO_KEY:
                    raise _Unusual  # a map or list as a key: PyYAML's "unhashable key" error
                current[key] = value
            else:
                current.append(value)
            outer.append((current, _NO_KEY))
            current, key = value, _NO_KEY
            continue
        elif kind is DocumentStartEvent:
            current, key = [], _NO_KEY  # a one-item list holds the document's root
            continue
        elif kind is DocumentEndEvent:
            docs.append(current[0])
            continue
        elif kind is StreamEndEvent:
            return docs
        elif kind is StreamStartEvent:
            continue
        else:
            raise _Unusual  # an alias
        if type(current) is dict:
            if key is _NO_KEY:
                key = value
            else:
                current[key] = value
                key = _NO_KEY
        else:
            current.append(value)


class _PlainScalars:
    """A plain scalar's value depends on its text alone (SafeLoader has no path resolvers), and
    manifests repeat the same texts over and over: resolve and build each one once. Every value
    built here is immutable, so one object may stand for all its occurrences."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        """Each text resolved so far, and its value."""
        self._loader = yaml.SafeLoader("")

    def __call__(self, text: str) -> Any:
        """The value of a plain scalar not seen before."""
        tag = self._loader.resolve(yaml.ScalarNode, text, (True, False))
        if tag not in _PLAIN:
            raise _Unusual
        value = text if tag == STR else self._loader.construct_object(yaml.ScalarNode(tag, text))
        self.values[text] = value
        return value
