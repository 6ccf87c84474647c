"""Scaffolding notes from bibliography entries: ``new-note KEY`` and ``import-notes FILE.bib``.

A scaffolded note is prefilled from what the entry already has (author, year, and a Zotero/Better
BibTeX ``annotation``, ``annote`` or ``abstract`` field as a starting point, marked as to be
rewritten). This module writes only ``bib/notes/KEY.md`` for a key that is a plain file name, and
never overwrites a file: an existing note is skipped, whatever its content. Entry fields are data:
they reach the note's body as text and its front matter through ``yaml.safe_dump``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from scholarly_build.core.problems import BuildFailed, Problems
from scholarly_build.core.safety import is_inside, is_safe_key
from scholarly_build.inputs.bibliography import BibEntry, load_bibliography
from scholarly_build.inputs.project import Project

# The entry fields a reference manager fills with a note or an abstract, in order of preference:
# Better BibTeX exports Zotero notes as `annotation` (biblatex) or `annote` (BibTeX); JabRef uses both.
STARTING_POINT_FIELDS = ("annotation", "annote", "abstract")
# Where a project keeps the shipped schemas (written by `init`); a note names its schema from there.
NOTE_SCHEMA = Path(".schemas/note.schema.json")
TO_REWRITE = (
    "TODO: the annotation, 80-200 words in your own words: what the work is, what it argues, "
    "and how the compared works use it."
)


@dataclass
class ImportReport:
    """What ``import_notes`` did: the notes it wrote and the entries it skipped, with why."""

    created: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)


def _plain(value: str) -> str:
    """A BibTeX field value as text: braces dropped, runs of white space folded."""
    return re.sub(r"\s+", " ", value.replace("{", "").replace("}", "")).strip()


def _body(entry: BibEntry) -> str:
    """The note's body: the placeholder, then the entry's own note or abstract to start from."""
    for name in STARTING_POINT_FIELDS:
        text = _plain(entry.fields.get(name, ""))
        if text:
            return (
                f"{TO_REWRITE} A starting point, from the entry's `{name}` field "
                "(rewrite it: it is not yet your annotation):\n\n"
                f"> {text}\n"
            )
    return TO_REWRITE + "\n"


def note_template(entry: BibEntry, project: Project) -> str:
    """The text of a new note for ``entry``: front matter prefilled from the entry, a body to rewrite."""
    front: dict[str, object] = {
        "key": entry.key,
        "metadata": "complete",
        "author": "; ".join(_plain(p) for p in entry.persons.get("author") or entry.persons.get("editor") or []),
        # An undated entry gets "n.d." (as the reference list prints it), never an empty year.
        "year": int(entry.year) if entry.year and entry.year.isdigit() else (entry.year or "n.d."),
        "themes": [project.themes[0].id] if project.themes else [],
        "summary": "TODO: what the work is and argues.",
        "uses": {w.key: [] for w in project.works},
        "claims": [],
        "quotations": [],
    }
    modeline = ""
    if (project.root / NOTE_SCHEMA).is_file():  # the editor's YAML language server reads it
        schema = Path(os.path.relpath(project.root / NOTE_SCHEMA, project.notes_dir)).as_posix()
        modeline = f"# yaml-language-server: $schema={schema}\n"
    dumped = yaml.safe_dump(front, allow_unicode=True, sort_keys=False)
    return "---\n" + modeline + dumped + "---\n" + _body(entry)


def note_path(project: Project, key: str) -> Path:
    """``bib/notes/KEY.md``; BuildFailed when the key is not a plain file name inside bib/notes/."""
    if not is_safe_key(key):
        raise BuildFailed(
            f"error new-note: the key {key!r} is not a safe file name; no note was written\n"
            "    hint: rename the entry in the .bib (letters, digits and _ : . + - only, no `..`)"
        )
    path = project.notes_dir / f"{key}.md"
    if not (is_inside(path, project.notes_dir) and is_inside(path, project.root)) or path.parent != project.notes_dir:
        raise BuildFailed(f"error new-note: {key!r} would be written outside bib/notes/; nothing was written")
    return path


def write_note(project: Project, entry: BibEntry) -> Path | None:
    """Write the note of ``entry`` unless one exists (then None): created exclusively, never replaced."""
    path = note_path(project, entry.key)
    if path.exists() or path.is_symlink():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8", newline="\n") as fh:  # "x": fails rather than overwrite
            fh.write(note_template(entry, project))
    except FileExistsError:
        return None
    return path


def import_notes(project: Project, bib: Path, problems: Problems) -> ImportReport:
    """A note for every entry of ``bib`` (a Zotero or JabRef export) that has none yet."""
    report = ImportReport()
    entries = load_bibliography([bib], problems).entries
    for key, entry in sorted(entries.items(), key=lambda item: item[0].lower()):
        if not is_safe_key(key):
            report.skipped.append((key, "the key is not a safe file name"))
            continue
        written = write_note(project, entry)
        if written is None:
            report.skipped.append((key, "the note exists"))
        else:
            report.created.append(written)
    return report
