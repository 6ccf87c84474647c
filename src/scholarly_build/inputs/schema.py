"""The JSON Schemas shipped in ``inputs/schemas/`` and validation against them.

A schema declares the shape of a document (a note's front matter, the settings); the
maintained ``jsonschema`` library checks data loaded by ``yamldoc`` against it and
this module turns each failure into one located finding: which field, which rule,
and the line the YAML loader recorded for it. It does not word messages for a
particular file (the loaders do) and it never reads the document itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from scholarly_build.inputs import yamldoc

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError


def _is_integer(_checker: object, instance: object) -> bool:
    """A whole number as Python has it: no bool, no float such as ``1999.0``."""
    return isinstance(instance, int) and not isinstance(instance, bool)


@cache
def _validator_class() -> Any:
    """Draft 2020-12 with Python's idea of an integer. jsonschema is imported here, on first use:
    it takes about a tenth of a second, which commands that validate nothing should not pay."""
    from jsonschema import Draft202012Validator, validators

    checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer)
    return validators.extend(Draft202012Validator, type_checker=checker)


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The schema ``inputs/schemas/<name>.schema.json`` shipped with the package."""
    text = resources.files("scholarly_build.inputs").joinpath("schemas", f"{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator(name: str) -> Any:
    """A validator for schema ``name`` (tests/test_schemas.py checks that the schema is valid)."""
    return _validator_class()(load_schema(name))


@dataclass(frozen=True)
class Violation:
    """One rule a value breaks: where (path in the document) and which keyword.

    ``field`` names the property concerned for ``required`` and ``additionalProperties``
    (the missing or the unknown field; ``path`` is then its parent), else it is None.
    """

    path: tuple[str | int, ...]
    keyword: str
    instance: Any
    schema: dict[str, Any]
    field: str | None = None

    def line(self, doc: yamldoc.YamlDoc) -> int:
        """The line the YAML loader recorded for the value (an unknown field: its key)."""
        if self.keyword == "additionalProperties" and self.field is not None:
            return doc.line(*self.path, self.field)
        return doc.line(*self.path)


def _split(error: ValidationError) -> Iterator[Violation]:
    path = tuple(error.absolute_path)
    keyword = str(error.validator)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if keyword == "required" and isinstance(error.instance, dict):
        for name in error.validator_value:
            if name not in error.instance:
                yield Violation(path, keyword, error.instance, schema, name)
    elif keyword == "additionalProperties" and isinstance(error.instance, dict):
        known = schema.get("properties", {})
        for name in error.instance:
            if name not in known:
                yield Violation(path, keyword, error.instance, schema, str(name))
    else:
        yield Violation(path, keyword, error.instance, schema)


def violations(name: str, data: Any) -> list[Violation]:
    """Every rule of schema ``name`` that ``data`` breaks, once each, in document order."""
    found: dict[tuple[Any, ...], Violation] = {}
    for error in _validator(name).iter_errors(data):
        for v in _split(error):
            found.setdefault((v.path, v.keyword, v.field), v)
    return list(found.values())
