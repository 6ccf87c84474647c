"""Scaffolding a new note from a bibliography entry."""

from __future__ import annotations

import yaml

from scholarly_build.inputs.bibliography import BibEntry
from scholarly_build.inputs.project import Project


def note_template(entry: BibEntry, project: Project) -> str:
    front: dict[str, object] = {
        "key": entry.key,
        "metadata": "complete",
        "author": "; ".join(
            p.replace("{", "").replace("}", "")
            for p in entry.persons.get("author") or entry.persons.get("editor") or []
        ),
        "year": int(entry.year) if entry.year and entry.year.isdigit() else entry.year,
        "themes": [project.themes[0].id] if project.themes else [],
        "summary": "TODO: what the work is and argues.",
        "uses": {w.key: [] for w in project.works},
        "claims": [],
        "quotations": [],
    }
    body = (
        "TODO: the annotation, 80-200 words in your own words: what the work is, what it argues, "
        "and how the compared works use it.\n"
    )
    return "---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False) + "---\n" + body
