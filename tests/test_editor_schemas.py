"""The JSON Schemas as editors use them: shipped, named by a modeline, and valid for this repository (issue 18).

An editor running the YAML language server reads `# yaml-language-server: $schema=PATH` (PATH relative
to the file) or the `yaml.schemas` mapping of `.vscode/settings.json`; both must name the schema files
the engine itself validates with.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "src" / "scholarly_build" / "inputs" / "schemas"
MODELINE = re.compile(r"# yaml-language-server: \$schema=(\S+)")


def front_matter(path: Path) -> tuple[str, Any]:
    """(the YAML text, its data) of a settings file or of a note's front matter."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        text = text.split("---\n")[1]
    return text, yaml.safe_load(text)


def validator(schema_file: Path) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(schema_file.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def new_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("init") / "paper"
    proc = subprocess.run([sys.executable, "-m", "scholarly_build", "init", str(root)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return root


def test_modelines_resolve_to_the_shipped_schemas(new_project: Path) -> None:
    """Each scaffolded note and settings file names, by a relative path, a copy of the schema the engine ships;
    the file validates against it."""
    files = [new_project / "manuscript/paper.yaml", *sorted((new_project / "bib/notes").glob("*.md"))]
    assert len(files) == 4
    for path in files:
        text, data = front_matter(path)
        match = MODELINE.match(text)
        assert match is not None, f"{path.name}: no modeline on the first line"
        target = (path.parent / match.group(1)).resolve()
        shipped = SCHEMAS / ("settings.schema.json" if path.suffix == ".yaml" else "note.schema.json")
        assert target.read_bytes() == shipped.read_bytes(), path.name
        assert list(validator(target).iter_errors(data)) == [], path.name


def test_vscode_settings_map_existing_schemas(new_project: Path) -> None:
    """The new project's and this repository's .vscode/settings.json map schema files that exist to files that exist."""
    for root in (new_project, REPO):
        mapping = json.loads((root / ".vscode/settings.json").read_text())["yaml.schemas"]
        for schema, patterns in mapping.items():
            assert (root / schema).is_file(), schema
            files = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
            assert any(fnmatch.fnmatch(f, pattern) for pattern in patterns for f in files), patterns


def test_schemas_validate_every_note_and_setting_of_this_repository() -> None:
    """The shipped schema files accept this repository's paper.yaml and every note's front matter as they are."""
    notes = sorted((REPO / "bib/notes").glob("*.md"))
    assert len(notes) > 20
    for path in notes:
        assert list(validator(SCHEMAS / "note.schema.json").iter_errors(front_matter(path)[1])) == [], path.name
    settings = front_matter(REPO / "manuscript/paper.yaml")[1]
    assert list(validator(SCHEMAS / "settings.schema.json").iter_errors(settings)) == []


def test_a_misspelt_field_is_what_the_editor_flags() -> None:
    """What the editor shows as the user types: an unknown field and a wrong enum value are schema errors."""
    _, data = front_matter(REPO / "bib/notes" / sorted(p.name for p in (REPO / "bib/notes").glob("*.md"))[0])
    errors = list(validator(SCHEMAS / "note.schema.json").iter_errors({**data, "sumary": "x", "metadata": "done"}))
    assert sorted(e.validator for e in errors) == ["additionalProperties", "enum"]


@pytest.mark.parametrize("name", ["note.schema.json", "settings.schema.json"])
def test_every_field_has_a_description_and_valid_examples(name: str) -> None:
    """Hovering a field shows its description; completion offers its examples, each of which is valid."""
    schema = json.loads((SCHEMAS / name).read_text())
    for key, prop in schema["properties"].items():
        assert prop.get("description"), key
        assert prop.get("examples"), key
        for example in prop["examples"]:
            sub = jsonschema.Draft202012Validator({**prop, "$defs": schema.get("$defs", {})})
            assert list(sub.iter_errors(example)) == [], (key, example)
