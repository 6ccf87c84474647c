"""Loading and validating notes: ``bib/notes/<key>.md`` = YAML front matter + body.

The schema is documented in ``docs/note-schema.md``; keep the two in step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scholarly_build.core.limits import MAX_NOTE_BYTES
from scholarly_build.core.problems import Problems
from scholarly_build.core.textfile import read_text
from scholarly_build.inputs import yamldoc
from scholarly_build.inputs.project import Project

METADATA_STATUSES = ("complete", "reconstructed", "from-source-text")
# A locator is placed inside a generated citation (`[-@key, LOCATOR]`): brackets, `@`, `;`,
# braces, backticks, backslashes and line breaks would end it or start another one.
LOCATOR = re.compile(r"^(p|pp|n|nn|sec|secs|ch|para|fig|tbl)\.\s+[^\s\[\]@;{}`\\<>][^\n\r\[\]@;{}`\\<>]*$")
LOCATOR_HINT = (
    "write a locator such as `p. 133`, `pp. 12-14`, `n. 16` or `sec. Legitimacy` "
    "(without brackets, braces, `@`, `;`, `<`, `>`, backticks or backslashes)"
)

# field -> (required, python types, description for messages)
FIELDS: dict[str, tuple[bool, tuple[type, ...], str]] = {
    "key": (True, (str,), "a string"),
    "metadata": (True, (str,), "one of " + ", ".join(METADATA_STATUSES)),
    "author": (False, (str,), "a string"),
    "year": (False, (int, str), "a year"),
    "themes": (True, (list,), "a list of theme ids"),
    "summary": (True, (str,), "a string"),
    "uses": (True, (dict,), "a mapping of work key -> list of uses"),
    "claims": (False, (list,), "a list of claims"),
    "quotations": (False, (list,), "a list of quotations"),
    "provenance": (False, (str,), "a string"),
}
USE_FIELDS = {"locator": True, "how": True}
CLAIM_FIELDS = {"claim": True, "locator": True, "theme": False, "stance": False}
QUOTE_FIELDS = {"text": True, "locator": False, "via": False, "via_locator": False}


@dataclass(frozen=True)
class Use:
    work: str
    locator: str
    how: str
    line: int


@dataclass(frozen=True)
class Claim:
    claim: str
    locator: str
    theme: str | None
    stance: str | None
    line: int


@dataclass(frozen=True)
class Quotation:
    text: str
    locator: str | None
    via: str | None
    via_locator: str | None
    line: int


@dataclass
class Note:
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
        return len(re.findall(r"\w+", self.body))

    def uses_by(self, work: str) -> list[Use]:
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


def _check_fields(
    item: Any,
    spec: dict[str, bool],
    doc: yamldoc.YamlDoc,
    path_key: tuple[str | int, ...],
    what: str,
    problems: Problems,
    path: Path,
    offset: int,
) -> bool:
    line = doc.line(*path_key) + offset
    if not isinstance(item, dict):
        problems.error("note-schema", f"each {what} must be a mapping with {', '.join(spec)}", path=path, line=line)
        return False
    ok = True
    for name in item:
        if name not in spec:
            problems.error(
                "note-schema",
                f"unknown field {name!r} in {what}",
                path=path,
                line=doc.line(*path_key, name) + offset,
                hint=f"allowed: {', '.join(spec)}",
            )
            ok = False
    for name, required in spec.items():
        if required and item.get(name) is None:
            message = f"{what} is missing {name!r}" if name not in item else f"{what} field {name!r} is empty"
            problems.error(
                "note-schema",
                message,
                path=path,
                line=doc.line(*path_key, name) + offset if name in item else line,
                hint=f"give `{name}:` a value",
            )
            ok = False
        elif name in item and item[name] is not None and not isinstance(item[name], str):
            problems.error(
                "note-schema",
                f"{what} field {name!r} must be a string",
                path=path,
                line=doc.line(*path_key, name) + offset,
            )
            ok = False
    return ok


def _check_locator(value: str | None, problems: Problems, path: Path, line: int, key: str) -> None:
    if value is not None and not LOCATOR.match(value.strip()):
        problems.error("note-schema", f"bad locator {value!r}", path=path, line=line, key=key, hint=LOCATOR_HINT)


def load_note(path: Path, project: Project, problems: Problems) -> Note | None:
    """Parse and validate one note; return None if it cannot be used at all."""
    text = read_text(path, problems, limit=MAX_NOTE_BYTES, kind="a note")
    if text is None:
        return None
    if not text.strip():
        problems.error(
            "note-schema", "note is empty", path=path, line=1, hint=f"run `invoke new-note {path.stem}` to scaffold it"
        )
        return None
    parts = split_front_matter(text)
    if parts is None:
        problems.error(
            "note-schema",
            "note has no YAML front matter between two `---` lines",
            path=path,
            line=1,
            hint="start the file with `---`, the fields, then `---` and the annotation",
        )
        return None
    front, body, body_line = parts
    offset = 1  # front matter starts on line 2 of the file
    try:
        doc = yamldoc.load(front)
    except yamldoc.YamlError as exc:
        problems.error(
            "note-schema",
            f"malformed YAML front matter: {exc.message}",
            path=path,
            line=exc.line + offset,
            hint="YAML uses spaces for indentation; quote values that contain `: `",
        )
        return None
    data = doc.data
    if not isinstance(data, dict):
        problems.error(
            "note-schema",
            "front matter must be a mapping of fields",
            path=path,
            line=1 + offset,
            hint="see docs/note-schema.md for the fields",
        )
        return None
    key_for_msgs = str(data.get("key", path.stem))
    bad = False
    for name in data:
        if name not in FIELDS:
            problems.error(
                "note-schema",
                f"unknown field {name!r}",
                path=path,
                line=doc.line(name) + offset,
                key=key_for_msgs,
                hint=f"allowed fields: {', '.join(FIELDS)}",
            )
    for name, (required, types, desc) in FIELDS.items():
        if name not in data:
            if required:
                problems.error(
                    "note-schema",
                    f"missing required field {name!r}",
                    path=path,
                    line=1 + offset,
                    key=key_for_msgs,
                    hint=f"add `{name}:` ({desc}); see docs/note-schema.md",
                )
                bad = True
            continue
        if not isinstance(data[name], types) or isinstance(data[name], bool):
            problems.error(
                "note-schema",
                f"field {name!r} must be {desc}, not {type(data[name]).__name__}",
                path=path,
                line=doc.line(name) + offset,
                key=key_for_msgs,
            )
            bad = True
    if bad:
        return None

    key = data["key"]
    if "year" in data and not re.fullmatch(r"\d{4}|n\.d\.", str(data["year"]).strip()):
        problems.error(
            "note-schema",
            f"year {data['year']!r} is not a four-digit year (or n.d.)",
            path=path,
            line=doc.line("year") + offset,
            key=key,
            hint="write the year only, e.g. year: 1999",
        )
    if key != path.stem:
        problems.error(
            "note-schema",
            f"key {key!r} does not match the file name {path.name!r}",
            path=path,
            line=doc.line("key") + offset,
            key=key,
            hint=f"rename the file to {key}.md or fix `key`",
        )
    if data["metadata"] not in METADATA_STATUSES:
        problems.error(
            "note-schema",
            f"metadata must be one of {', '.join(METADATA_STATUSES)}, not {data['metadata']!r}",
            path=path,
            line=doc.line("metadata") + offset,
            key=key,
        )
    themes: list[str] = []
    if not data["themes"]:
        problems.error(
            "note-schema", "themes must list at least one theme", path=path, line=doc.line("themes") + offset, key=key
        )
    for i, theme in enumerate(data["themes"]):
        if not isinstance(theme, str):
            problems.error(
                "note-schema", "each theme must be a string id", path=path, line=doc.line("themes", i) + offset, key=key
            )
        elif theme not in project.theme_ids:
            problems.error(
                "unknown-theme",
                f"theme {theme!r} is not declared in manuscript/paper.yaml",
                path=path,
                line=doc.line("themes", i) + offset,
                key=key,
                hint=f"use one of: {', '.join(project.theme_ids)}",
            )
        else:
            themes.append(theme)

    uses: list[Use] = []
    for work, items in data["uses"].items():
        wline = doc.line("uses", work) + offset
        if work not in project.work_keys:
            problems.error(
                "note-schema",
                f"`uses` names {work!r}, which is not a compared work",
                path=path,
                line=wline,
                key=key,
                hint=f"use one of: {', '.join(project.work_keys)}",
            )
            continue
        if not isinstance(items, list):
            problems.error(
                "note-schema", f"`uses.{work}` must be a list of {{locator, how}}", path=path, line=wline, key=key
            )
            continue
        for i, item in enumerate(items):
            if _check_fields(item, USE_FIELDS, doc, ("uses", work, i), "use", problems, path, offset):
                line = doc.line("uses", work, i) + offset
                _check_locator(item["locator"], problems, path, doc.line("uses", work, i, "locator") + offset, key)
                uses.append(Use(work, item["locator"].strip(), item["how"].strip(), line))

    claims: list[Claim] = []
    for i, item in enumerate(data.get("claims") or []):
        if _check_fields(item, CLAIM_FIELDS, doc, ("claims", i), "claim", problems, path, offset):
            line = doc.line("claims", i) + offset
            _check_locator(item["locator"], problems, path, doc.line("claims", i, "locator") + offset, key)
            theme = item.get("theme")
            if theme is not None and theme not in project.theme_ids:
                problems.error(
                    "unknown-theme",
                    f"claim theme {theme!r} is not declared in manuscript/paper.yaml",
                    path=path,
                    line=doc.line("claims", i, "theme") + offset,
                    key=key,
                )
            claims.append(Claim(item["claim"].strip(), item["locator"].strip(), theme, item.get("stance"), line))

    quotations: list[Quotation] = []
    for i, item in enumerate(data.get("quotations") or []):
        if _check_fields(item, QUOTE_FIELDS, doc, ("quotations", i), "quotation", problems, path, offset):
            line = doc.line("quotations", i) + offset
            loc, via, via_loc = item.get("locator"), item.get("via"), item.get("via_locator")
            if not (loc or via_loc):
                problems.error(
                    "quote-without-locator",
                    "quotation has neither `locator` nor `via_locator`",
                    path=path,
                    line=line,
                    key=key,
                    hint=LOCATOR_HINT,
                )
            _check_locator(loc, problems, path, doc.line("quotations", i, "locator") + offset, key)
            _check_locator(via_loc, problems, path, doc.line("quotations", i, "via_locator") + offset, key)
            if via is not None and via not in project.work_keys:
                problems.error(
                    "note-schema",
                    f"`via` names {via!r}, which is not a compared work",
                    path=path,
                    line=doc.line("quotations", i, "via") + offset,
                    key=key,
                )
            quotations.append(Quotation(item["text"].strip(), loc, via, via_loc, line))

    return Note(
        key=key,
        path=path,
        metadata=data["metadata"],
        themes=themes,
        summary=data["summary"].strip(),
        uses=uses,
        claims=claims,
        quotations=quotations,
        body=body.strip(),
        body_line=body_line,
        author=data.get("author"),
        year=str(data["year"]) if "year" in data else None,
        provenance=(data["provenance"].strip() or None) if "provenance" in data else None,
        lines={str(k): doc.line(str(k)) + offset for k in data},
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
