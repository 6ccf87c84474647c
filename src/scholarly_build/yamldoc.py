"""YAML loading that remembers where every value came from.

PyYAML's composed node tree carries line marks; we construct plain Python data
from it and keep a ``path -> line`` map so that schema errors can point at the
exact line of the offending field. Only the safe subset of YAML is accepted.
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


def _build(node: yaml.Node, path: PathKey, lines: dict[PathKey, int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.SafeLoader.construct_scalar(_LOADER, key_node)  # type: ignore[arg-type]
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlError("mapping keys must be plain strings", key_node.start_mark.line + 1)
            if key in out:
                raise YamlError(f"duplicate key {key!r}", key_node.start_mark.line + 1)
            lines[(*path, str(key))] = key_node.start_mark.line + 1
            out[str(key)] = _build(value_node, (*path, str(key)), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return _LOADER.construct_object(node, deep=True)


_LOADER = yaml.SafeLoader("")


def load(text: str) -> YamlDoc:
    """Parse ``text`` as one YAML document with line tracking."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.context and "quoted scalar" in exc.context and exc.context_mark is not None:
            mark = exc.context_mark  # an unclosed quote: point at where it opened
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or str(exc)
        if "\t" in text and "found character '\\t'" in str(exc):
            problem = "a tab character is used for indentation (YAML allows only spaces)"
        raise YamlError(problem, line) from None
    except yaml.YAMLError as exc:
        raise YamlError(str(exc), 1) from None
    lines: dict[PathKey, int] = {}
    if node is None:
        return YamlDoc(None, {(): 1})
    try:
        data = _build(node, (), lines)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise YamlError(exc.problem or str(exc), mark.line + 1 if mark else 1) from None
    return YamlDoc(data, lines)
