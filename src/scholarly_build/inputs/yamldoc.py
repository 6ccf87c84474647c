"""YAML loading that remembers where every value came from.

PyYAML's composed node tree carries line marks; we construct plain Python data
from it and keep a ``path -> line`` map so that schema errors can point at the
exact line of the offending field. Only the safe subset of YAML is accepted: no
Python objects, no implicit dates, no anchors or aliases, and a bounded number of
nodes, so a hostile file cannot run code or exhaust memory. It only parses; what
the data means is for the loaders (``notes``, ``project``) and the schemas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

PathKey = tuple[str | int, ...]


class YamlError(Exception):
    """A YAML syntax error with a 1-based line relative to the parsed text."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass
class YamlDoc:
    """Plain data loaded from YAML, and the 1-based line of every value by its path (keys and indexes)."""

    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line(self, *path: str | int) -> int:
        """The line of ``path``, falling back to its nearest ancestor."""
        key: PathKey = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), 1)


class _Loader(yaml.SafeLoader):
    """The safe loader, minus implicit timestamps: `1999-02-30` stays a string
    instead of raising, and dates in notes are data, not datetime objects."""


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

# libyaml composes the same nodes several times faster (every build parses every note's front
# matter). It is used only when it parses the text; any error is re-raised by the pure-Python
# parser, whose messages the error reports are written for.
class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's safe loader (where PyYAML has it) with the same implicit resolvers as :class:`_Loader`."""


_FastLoader.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers
_HAVE_LIBYAML = bool(getattr(yaml, "__with_libyaml__", False))


def _compose(text: str) -> yaml.Node | None:
    if _HAVE_LIBYAML:
        try:
            return yaml.compose(text, Loader=_FastLoader)
        except (yaml.YAMLError, RecursionError):
            pass  # reported by the pure-Python parser below, with its messages
    return yaml.compose(text, Loader=_Loader)


MAX_NODES = 100_000  # far beyond any real note; stops alias "billion laughs" expansion
MAX_DEPTH = 100


def _build(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], seen: set[int]) -> Any:
    if id(node) in seen and isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        raise YamlError("YAML anchors and aliases (&name / *name) are not supported here", node.start_mark.line + 1)
    seen.add(id(node))
    if len(path) > MAX_DEPTH or len(lines) > MAX_NODES:
        raise YamlError("the YAML is nested too deeply or is too large", node.start_mark.line + 1)
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlError("mapping keys must be plain strings", key_node.start_mark.line + 1)
            key = str(key_node.value)
            if key in out:
                raise YamlError(f"duplicate key {key!r}", key_node.start_mark.line + 1)
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, (*path, key), lines, seen)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), lines, seen) for i, item in enumerate(node.value)]
    try:
        return _Loader("").construct_object(node, deep=True)
    except Exception as exc:  # noqa: BLE001 - any bad scalar (e.g. an explicit !!timestamp) is the user's
        raise YamlError(f"bad value: {exc}", node.start_mark.line + 1) from None


def _unclosed_quote_line(text: str, before: int) -> int | None:
    """The first line up to ``before`` whose value opens a double quote it never closes."""
    for number, line in enumerate(text.splitlines()[:before], start=1):
        value = line.split(": ", 1)[1] if ": " in line else line.lstrip("- ")
        if value.lstrip().startswith('"') and value.replace('\\"', "").count('"') % 2 == 1:
            return number
    return None


def _deepest_line(text: str) -> int:
    """The line where bracket nesting first exceeds MAX_DEPTH (1 if it never does)."""
    depth = 0
    for number, line in enumerate(text.splitlines(), start=1):
        for ch in line:
            depth += 1 if ch in "[{" else -1 if ch in "]}" else 0
            if depth > MAX_DEPTH:
                return number
    return 1


def load(text: str) -> YamlDoc:
    """Parse ``text`` as one YAML document with line tracking."""
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.context and "quoted scalar" in exc.context and exc.context_mark is not None:
            mark = exc.context_mark  # an unclosed quote: point at where it opened
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or str(exc)
        if "\t" in text and "found character '\\t'" in str(exc):
            problem = "a tab character is used for indentation (YAML allows only spaces)"
        else:
            opened = _unclosed_quote_line(text, line)
            if opened is not None:
                line, problem = opened, "a quoted value starts on this line and is not closed"
        raise YamlError(problem, line) from None
    except yaml.YAMLError as exc:
        raise YamlError(str(exc), 1) from None
    except RecursionError:
        raise YamlError("the YAML is nested too deeply", _deepest_line(text)) from None
    lines: dict[PathKey, int] = {}
    if node is None:
        return YamlDoc(None, {(): 1})
    try:
        data = _build(node, (), lines, set())
    except RecursionError:
        raise YamlError("the YAML is nested too deeply", _deepest_line(text)) from None
    return YamlDoc(data, lines)
