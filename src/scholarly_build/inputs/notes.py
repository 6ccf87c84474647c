"""Loading and validating notes: ``bib/notes/<key>.md`` = YAML front matter + body.

The schema is declared in ``inputs/schemas/note.schema.json`` and documented in
``docs/note-schema.md`` (``tests/test_schemas.py`` keeps the two in step).
Notes are untrusted data (they may come from a pull request): this module reads
them as data only, through the safe YAML loader, and reports every fault as a
located problem. It must not render note text as a template, run anything, or
read outside the project; checks across notes and the bibliography live in
``checks.rules``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scholarly_build.core.limits import MAX_NOTE_BYTES
from scholarly_build.core.problems import Problems
from scholarly_build.core.textfile import read_text
from scholarly_build.inputs import schema, yamldoc
from scholarly_build.inputs.project import Project

METADATA_STATUSES = ("complete", "reconstructed", "from-source-text")
# A locator is placed inside a generated citation (`[-@key, LOCATOR]`): brackets, `@`, `;`,
# braces, backticks, backslashes and line breaks would end it or start another one.
LOCATOR = re.compile(r"^(p|pp|n|nn|sec|secs|ch|para|fig|tbl)\.\s+[^\s\[\]@;{}`\\<>][^\n\r\[\]@;{}`\\<>]*$")
LOCATOR_HINT = (
    "write a locator such as `p. 133`, `pp. 12-14`, `n. 16` or `sec. Legitimacy` "
    "(without brackets, braces, `@`, `;`, `<`, `>`, backticks or backslashes)"
)

ITEM_KINDS = {"uses": "use", "claims": "claim", "quotations": "quotation"}


@dataclass(frozen=True)
class Use:
    """How one of the compared works uses this source: at ``locator`` of that work, for ``how``."""

    work: str
    locator: str
    how: str
    line: int


@dataclass(frozen=True)
class Claim:
    """A claim the source makes, with where it makes it and (optionally) the theme and stance it bears on."""

    claim: str
    locator: str
    theme: str | None
    stance: str | None
    line: int


@dataclass(frozen=True)
class Quotation:
    """Words quoted from the source, located in it, or (``via``) in the compared work that quotes them."""

    text: str
    locator: str | None
    via: str | None
    via_locator: str | None
    line: int


@dataclass
class Note:
    """One validated note: its fields, its annotation (the body) and the line of each top-level field."""

    key: str
    path: Path
    metadata: str
    themes: list[str]
    summary: str
    uses: list[Use]
    claims: list[Claim]
    quotations: list[Quotation]
    body: str
    body_line: int
    author: str | None = None
    year: str | None = None
    provenance: str | None = None
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def annotation_words(self) -> int:
        """Words in the annotation, counted as the length rules count them."""
        return len(re.findall(r"\w+", self.body))

    def uses_by(self, work: str) -> list[Use]:
        """The uses of this source by the compared work ``work``, in the note's order."""
        return [u for u in self.uses if u.work == work]


def split_front_matter(text: str) -> tuple[str, str, int] | None:
    """Return (yaml, body, body_first_line) or None when there is no front matter."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n") != "---":
        return None
    for i in range(1, len(lines)):
        if lines[i].rstrip("\r\n") in ("---", "..."):
            return "".join(lines[1:i]), "".join(lines[i + 1 :]), i + 2
    return None


@dataclass(frozen=True)
class _NoteProblems:
    """Problems in one note: every finding names the note's file and key, only line and wording differ."""

    problems: Problems
    path: Path
    key: str | None = None

    def error(self, message: str, line: int, hint: str | None = None, code: str = "note-schema") -> None:
        """Report an error (``note-schema`` unless told) at ``line`` of the note."""
        self.problems.error(code, message, path=self.path, line=line, key=self.key, hint=hint)


def _check_locator(value: str | None, at: _NoteProblems, line: int) -> None:
    """A locator must be a label and a place (``LOCATOR``): it is placed inside a generated citation."""
    if value is not None and not LOCATOR.match(value.strip()):
        at.error(f"bad locator {value!r}", line, LOCATOR_HINT)


def _item_path(where: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """The path of the use, claim or quotation that ``where`` lies in (or at)."""
    return where[:3] if where[0] == "uses" else where[:2]


def _is_structural(v: schema.Violation) -> bool:
    """A fault at the top of the front matter: an unknown, missing or mistyped field."""
    return v.path == () or (len(v.path) == 1 and v.keyword == "type")


def _report_field(v: schema.Violation, doc: yamldoc.YamlDoc, at: _NoteProblems) -> None:
    """Word a top-level violation as the loader always has (`missing required field 'summary'` ...)."""
    fields: dict[str, Any] = schema.load_schema("note")["properties"]
    line = v.line(doc) + 1
    if v.keyword == "additionalProperties":
        at.error(f"unknown field {v.field!r}", line, f"allowed fields: {', '.join(fields)}")
    elif v.keyword == "required" and v.field is not None:
        hint = f"add `{v.field}:` ({fields[v.field]['x-hint']}); see docs/note-schema.md"
        at.error(f"missing required field {v.field!r}", line, hint)
    else:
        name = str(v.path[0])
        at.error(f"field {name!r} must be {fields[name]['x-hint']}, not {type(v.instance).__name__}", line)


def _report_item(v: schema.Violation, doc: yamldoc.YamlDoc, at: _NoteProblems) -> None:
    """Word a violation inside ``themes``, ``uses``, ``claims`` or ``quotations``."""
    line = v.line(doc) + 1
    where = v.path
    if where == ("metadata",):
        at.error(f"metadata must be one of {', '.join(v.schema['enum'])}, not {v.instance!r}", line)
        return
    if where == ("themes",):
        at.error("themes must list at least one theme", line)
        return
    if where[0] == "themes":
        at.error("each theme must be a string id", line)
        return
    if where[0] == "uses" and len(where) == 2:
        at.error(f"`uses.{where[1]}` must be a list of {{locator, how}}", line)
        return
    what = ITEM_KINDS[str(where[0])]
    if v.keyword == "additionalProperties":
        at.error(f"unknown field {v.field!r} in {what}", line, f"allowed: {', '.join(v.schema['properties'])}")
    elif v.keyword == "required":
        at.error(f"{what} is missing {v.field!r}", line, f"give `{v.field}:` a value")
    elif where == _item_path(where):
        at.error(f"each {what} must be a mapping with {', '.join(v.schema['properties'])}", line)
    elif v.instance is None:
        at.error(f"{what} field {where[-1]!r} is empty", line, f"give `{where[-1]}:` a value")
    else:
        at.error(f"{what} field {where[-1]!r} must be a string", line)


def _check_year(data: dict[str, Any], doc: yamldoc.YamlDoc, at: _NoteProblems) -> None:
    """`year` is four digits or ``n.d.`` (an integer year too, so not a schema pattern)."""
    if "year" in data and not re.fullmatch(r"\d{4}|n\.d\.", str(data["year"]).strip()):
        message = f"year {data['year']!r} is not a four-digit year (or n.d.)"
        at.error(message, doc.line("year") + 1, "write the year only, e.g. year: 1999")


def _check_key_is_file_name(key: str, doc: yamldoc.YamlDoc, at: _NoteProblems) -> None:
    """The note's `key` is its file name without `.md`."""
    if key != at.path.stem:
        message = f"key {key!r} does not match the file name {at.path.name!r}"
        at.error(message, doc.line("key") + 1, f"rename the file to {key}.md or fix `key`")


def _declared_themes(data: dict[str, Any], doc: yamldoc.YamlDoc, project: Project, at: _NoteProblems) -> list[str]:
    """The note's theme ids that ``paper.yaml`` declares; each other string id is `unknown-theme`."""
    themes: list[str] = []
    for i, theme in enumerate(data["themes"]):
        if not isinstance(theme, str):
            continue  # the schema reported it
        if theme not in project.theme_ids:
            message = f"theme {theme!r} is not declared in manuscript/paper.yaml"
            hint = f"use one of: {', '.join(project.theme_ids)}"
            at.error(message, doc.line("themes", i) + 1, hint, code="unknown-theme")
        else:
            themes.append(theme)
    return themes


@dataclass(frozen=True)
class _Items:
    """What reading a note's items needs: its data and lines, the project, the items the schema rejected."""

    data: dict[str, Any]
    doc: yamldoc.YamlDoc
    project: Project
    bad: set[tuple[str | int, ...]]
    at: _NoteProblems

    def line(self, *where: str | int) -> int:
        """1-based line in the note's file of the value at ``where`` (the front matter starts on line 2)."""
        return self.doc.line(*where) + 1

    def valid(self, kind: str) -> Iterator[tuple[int, dict[str, Any]]]:
        """(index, item) of each ``claims`` or ``quotations`` item that the schema accepted."""
        for i, item in enumerate(self.data.get(kind) or []):
            if (kind, i) not in self.bad:
                yield i, item


def _uses(it: _Items) -> list[Use]:
    """The uses by compared works; `uses` naming another work is a `note-schema` error."""
    uses: list[Use] = []
    for work, items in it.data["uses"].items():
        if work not in it.project.work_keys:
            message = f"`uses` names {work!r}, which is not a compared work"
            it.at.error(message, it.line("uses", work), f"use one of: {', '.join(it.project.work_keys)}")
            continue
        if ("uses", work) in it.bad:
            continue
        for i, item in enumerate(items):
            if ("uses", work, i) not in it.bad:
                _check_locator(item["locator"], it.at, it.line("uses", work, i, "locator"))
                uses.append(Use(work, item["locator"].strip(), item["how"].strip(), it.line("uses", work, i)))
    return uses


def _claims(it: _Items) -> list[Claim]:
    """The claims; a claim's `theme` must be declared in ``paper.yaml``."""
    claims: list[Claim] = []
    for i, item in it.valid("claims"):
        _check_locator(item["locator"], it.at, it.line("claims", i, "locator"))
        theme = item.get("theme")
        if theme is not None and theme not in it.project.theme_ids:
            message = f"claim theme {theme!r} is not declared in manuscript/paper.yaml"
            it.at.error(message, it.line("claims", i, "theme"), code="unknown-theme")
        line = it.line("claims", i)
        claims.append(Claim(item["claim"].strip(), item["locator"].strip(), theme, item.get("stance"), line))
    return claims


def _quotations(it: _Items) -> list[Quotation]:
    """The quotations: each has a locator or a via_locator, and `via` names a compared work."""
    quotations: list[Quotation] = []
    for i, item in it.valid("quotations"):
        line = it.line("quotations", i)
        loc, via, via_loc = item.get("locator"), item.get("via"), item.get("via_locator")
        if not (loc or via_loc):
            message = "quotation has neither `locator` nor `via_locator`"
            it.at.error(message, line, LOCATOR_HINT, code="quote-without-locator")
        _check_locator(loc, it.at, it.line("quotations", i, "locator"))
        _check_locator(via_loc, it.at, it.line("quotations", i, "via_locator"))
        if via is not None and via not in it.project.work_keys:
            it.at.error(f"`via` names {via!r}, which is not a compared work", it.line("quotations", i, "via"))
        quotations.append(Quotation(item["text"].strip(), loc, via, via_loc, line))
    return quotations


def _front_matter(path: Path, problems: Problems) -> tuple[yamldoc.YamlDoc, str, int] | None:
    """The note's front matter (a mapping, with lines) and its body; None after reporting why not."""
    text = read_text(path, problems, limit=MAX_NOTE_BYTES, kind="a note")
    if text is None:
        return None
    at = _NoteProblems(problems, path)
    if not text.strip():
        at.error("note is empty", 1, f"run `invoke new-note {path.stem}` to scaffold it")
        return None
    parts = split_front_matter(text)
    if parts is None:
        hint = "start the file with `---`, the fields, then `---` and the annotation"
        at.error("note has no YAML front matter between two `---` lines", 1, hint)
        return None
    front, body, body_line = parts
    try:
        doc = yamldoc.load(front)
    except yamldoc.YamlError as exc:
        hint = "YAML uses spaces for indentation; quote values that contain `: `"
        # front matter starts on line 2 of the file
        at.error(f"malformed YAML front matter: {exc.message}", exc.line + 1, hint)
        return None
    if not isinstance(doc.data, dict):
        at.error("front matter must be a mapping of fields", 2, "see docs/note-schema.md for the fields")
        return None
    return doc, body, body_line


def load_note(path: Path, project: Project, problems: Problems) -> Note | None:
    """Parse one note and validate it against ``schemas/note.schema.json`` and the rules
    a schema cannot express; return None if it cannot be used at all.

    Every fault is reported (with its line) before anything is given up: a note
    with a faulty item is still returned without that item, so the other checks
    can run on the rest; only a note whose top-level fields are missing or of the
    wrong type is dropped.
    """
    loaded = _front_matter(path, problems)
    if loaded is None:
        return None
    doc, body, body_line = loaded
    data: dict[str, Any] = doc.data
    found = schema.violations("note", data)
    top = [v for v in found if _is_structural(v)]
    for v in top:
        _report_field(v, doc, _NoteProblems(problems, path, str(data.get("key", path.stem))))
    if any(v.keyword != "additionalProperties" for v in top):
        return None

    key: str = data["key"]
    at = _NoteProblems(problems, path, key)
    _check_year(data, doc, at)
    _check_key_is_file_name(key, doc, at)
    unknown_works = {("uses", w) for w in data["uses"] if w not in project.work_keys}
    bad: set[tuple[str | int, ...]] = set()
    for v in found:
        if v in top or v.path[:2] in unknown_works:
            continue
        _report_item(v, doc, at)
        if v.path[0] in ITEM_KINDS:
            bad.add(_item_path(v.path))
    items = _Items(data, doc, project, bad, at)
    return Note(
        key=key,
        path=path,
        metadata=data["metadata"],
        themes=_declared_themes(data, doc, project, at),
        summary=data["summary"].strip(),
        uses=_uses(items),
        claims=_claims(items),
        quotations=_quotations(items),
        body=body.strip(),
        body_line=body_line,
        author=data.get("author"),
        year=str(data["year"]) if "year" in data else None,
        provenance=(data["provenance"].strip() or None) if "provenance" in data else None,
        lines={str(k): doc.line(str(k)) + 1 for k in data},
    )


def load_notes(project: Project, problems: Problems, notes_dir: Path | None = None) -> dict[str, Note]:
    """Load every ``*.md`` note; return them by key (file stem)."""
    directory = notes_dir or project.notes_dir
    notes: dict[str, Note] = {}
    if not directory.is_dir():
        return notes
    for path in sorted(directory.glob("*.md")):
        if not project.inside(path):
            problems.error(
                "unsafe-path",
                "note is a symlink that points outside the project",
                path=path,
                line=1,
                hint="replace the link with the file itself",
            )
            continue
        if not path.is_file():
            problems.error(
                "missing-file",
                "not a file: a note must be a Markdown file",
                path=path,
                hint="rename or remove it; notes are bib/notes/KEY.md files",
            )
            continue
        note = load_note(path, project, problems)
        if note is not None:
            notes[path.stem] = note
    return notes
