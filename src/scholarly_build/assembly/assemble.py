"""Assembling the two documents' Markdown from the notes, sections and settings.

Jinja runs sandboxed with StrictUndefined: a typo in a template is an error, and
templates are the project's own. Note and section text is passed in as data and
never rendered as a template, so ``{{ ... }}`` inside a note prints literally.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2.sandbox import SandboxedEnvironment

from scholarly_build.checks.citations import all_cites, stringify
from scholarly_build.core.limits import MAX_SECTION_BYTES
from scholarly_build.core.problems import BuildFailed, Problem, Problems
from scholarly_build.core.textfile import read_text
from scholarly_build.inputs.notes import Claim, Note
from scholarly_build.inputs.project import PACKAGE_TEMPLATES, Project, Theme, Work

PAPER_TEMPLATE = "paper.md.j2"
BIBLIOGRAPHY_TEMPLATE = "annotated-bibliography.md.j2"
PAPER_HTML = "paper.html"
BIBLIOGRAPHY_HTML = "annotated-bibliography.html"
# The links at the top of each HTML document: (label, file), shown when the build writes the file.
OTHER_FORMATS = {
    "paper": (("PDF", "paper.pdf"), ("Word (DOCX)", "paper.docx"), ("Annotated bibliography", BIBLIOGRAPHY_HTML)),
    "annotated-bibliography": (("PDF", "annotated-bibliography.pdf"), ("The paper", PAPER_HTML)),
}
_SECTION_ID = re.compile(r"^[\w:.-]+$")


@dataclass(frozen=True)
class ComparisonRow:
    """One theme of the comparison table: each compared work's claims on it."""

    theme: Theme
    cells: list[tuple[Work, list[Claim]]]


@dataclass(frozen=True)
class ThemeSources:
    """One theme of the sources-by-theme appendix: the keys of the notes that carry it."""

    theme: Theme
    keys: list[str]


@dataclass(frozen=True)
class CitingSection:
    """A section of the paper that cites a work: its identifier (the HTML anchor) and its title."""

    ident: str
    title: str


def _cell(value: object) -> str:
    """Make a value safe inside a pipe-table cell."""
    return re.sub(r"\s+", " ", str(value)).replace("|", "\\|").strip()


def _inline(value: object) -> str:
    """One line: whitespace collapsed."""
    return re.sub(r"\s+", " ", str(value)).strip()


def _literal(value: object) -> str:
    """Markdown that reads back as exactly this text: every ASCII punctuation mark escaped."""
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", _inline(value))


def _fenced(value: object) -> str:
    """Neutralise lines that would close the Div fence around a note body."""
    return re.sub(r"(?m)^(\s*):::", r"\1\\:::", str(value))


_LOCATOR = re.compile(r"^(pp?|nn?|secs?|chs?|figs?|paras?)\.\s+(.+)$")
_PLURAL = {"p": "pp", "n": "nn", "sec": "secs", "ch": "chs", "fig": "figs", "para": "paras"}


def join_locators(locators: list[str]) -> str:
    """One locator for several claims citing the same work, as a reader writes it.

    ``["sec. Legitimacy", "sec. Conclusion", "sec. Legitimacy"]`` -> ``secs. Legitimacy\\; Conclusion``:
    repeats dropped, a shared label made plural, parts separated by an escaped ``;``
    (a bare one would end the citation in pandoc's syntax).
    """
    unique = list(dict.fromkeys(_inline(loc) for loc in locators if loc))
    parsed = [_LOCATOR.match(loc) for loc in unique]
    singular = {{"pp": "p", "nn": "n"}.get(m.group(1), m.group(1).rstrip("s")) for m in parsed if m}
    if len(unique) > 1 and all(parsed) and len(singular) == 1:
        label = _PLURAL[singular.pop()]
        joined = f"{label}. " + "; ".join(m.group(2) for m in parsed if m)
    else:
        joined = "; ".join(unique)
    return joined.replace(";", "\\;")


def environment(project: Project) -> SandboxedEnvironment:
    """The sandboxed Jinja environment over the project's templates, with the Markdown filters."""
    env = SandboxedEnvironment(
        # The project's templates/ first, then the engine's defaults (inputs/project.py resolve_templates).
        loader=jinja2.ChoiceLoader(
            [jinja2.FileSystemLoader(str(project.templates_dir)), jinja2.FileSystemLoader(str(PACKAGE_TEMPLATES))]
        ),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        # Pandoc's attribute syntax `{#id}` would open a Jinja comment.
        comment_start_string="{##",
        comment_end_string="##}",
    )
    labels = {t.id: t.label for t in project.themes}
    works = {w.key: w.label for w in project.works}
    env.filters.update(
        cell=_cell,
        md=_inline,
        literal=_literal,
        fenced=_fenced,
        locators=join_locators,
        theme_label=lambda t: labels.get(t, t),
        work_label=lambda w: works.get(w, w),
    )
    return env


def comparison_rows(project: Project, notes: dict[str, Note]) -> list[ComparisonRow]:
    """The comparison table (theme x work) from the compared works' claims."""
    rows = []
    for theme in project.themes:
        cells = []
        for work in project.works:
            note = notes.get(work.key)
            claims = [c for c in note.claims if c.theme == theme.id] if note else []
            cells.append((work, claims))
        rows.append(ComparisonRow(theme, cells))
    return rows


def sources_by_theme(project: Project, notes: dict[str, Note]) -> list[ThemeSources]:
    """For each theme, the sources (not the compared works) whose notes carry it."""
    works = set(project.work_keys)
    return [
        ThemeSources(theme, sorted(k for k, n in notes.items() if theme.id in n.themes and k not in works))
        for theme in project.themes
    ]


def _render(env: SandboxedEnvironment, name: str, context: dict[str, Any], project: Project) -> str:
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        path = Path(exc.filename) if exc.filename else project.templates_dir / (exc.name or name)
        raise BuildFailed(problems=_fmt(project, path, exc.lineno, f"template syntax error: {exc.message}")) from None
    except jinja2.TemplateNotFound as exc:
        raise BuildFailed(
            problems=_fmt(
                project,
                project.templates_dir / str(exc.name),
                0,
                f"template {exc.name!r} not found",
                "neither templates/ nor the engine's defaults have it: fix the name, or add the file to templates/",
            )
        ) from None
    except (jinja2.UndefinedError, jinja2.exceptions.SecurityError, TypeError, ValueError) as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(".j2")]
        where = frames[-1] if frames else None
        path = Path(where.filename) if where else project.templates_dir / name
        raise BuildFailed(
            problems=_fmt(
                project,
                path,
                where.lineno or 0 if where else 0,
                f"template error: {exc}",
                "check the variable names the template uses",
            )
        ) from None


def _fmt(project: Project, path: Path, line: int | None, message: str, hint: str = "") -> list[Problem]:
    problems = Problems(project.root)
    problems.error("template", message, path=path, line=line or 0, hint=hint or None)
    return list(problems)


def _metadata_yaml(meta: dict[str, Any]) -> str:
    return yaml.safe_dump(meta, allow_unicode=True, sort_keys=True, width=1000)


def assemble_paper(project: Project, notes: dict[str, Note], problems: Problems) -> tuple[str, list[Path]]:
    """Return the paper's Markdown and the section files it read."""
    blocks: list[dict[str, Any]] = []
    used: list[Path] = []
    for ref in project.sections:
        if ref.generated is not None:
            blocks.append({"kind": "generated", "name": ref.generated})
            continue
        if ref.path is None:  # a SectionRef is either generated or a file
            continue
        path = project.sections_dir / ref.path
        if not path.is_file():
            problems.error(
                "missing-file",
                f"section {ref.path} is listed but does not exist",
                path=project.settings_path,
                line=ref.line,
                hint=f"create {path.relative_to(project.root)} or remove it from `sections`",
            )
            continue
        if not project.inside(path):
            problems.error(
                "unsafe-path",
                f"section {ref.path} resolves outside the project",
                path=project.settings_path,
                line=ref.line,
            )
            continue
        text = read_text(path, problems, limit=MAX_SECTION_BYTES, kind="a section")
        if text is not None:
            blocks.append({"kind": "file", "text": text.strip()})
            used.append(path)
    if problems.errors:
        raise BuildFailed(problems=problems.errors)
    env = environment(project)
    context = {
        "blocks": blocks,
        "works": list(project.works),
        "themes": list(project.themes),
        "comparison": comparison_rows(project, notes),
        "sources_by_theme": sources_by_theme(project, notes),
        "notes": [notes[k] for k in sorted(notes)],
    }
    return _render(env, PAPER_TEMPLATE, context, project), used


def assemble_bibliography(
    project: Project,
    notes: dict[str, Note],
    csl_name: str,
    cited_in: dict[str, list[CitingSection]] | None = None,
) -> str:
    """Return the annotated bibliography's Markdown; ``cited_in`` lists, per key, the paper's sections citing it."""
    env = environment(project)
    context = {
        "notes": [notes[k] for k in sorted(notes)],
        "works": list(project.works),
        "themes": list(project.themes),
        "csl_name": csl_name,
        "cited_in": {k: (cited_in or {}).get(k, []) for k in sorted(notes)},
    }
    return _render(env, BIBLIOGRAPHY_TEMPLATE, context, project)


def citing_sections(ast: dict[str, Any] | None) -> dict[str, list[CitingSection]]:
    """For each work the paper cites, its top-level sections that cite it, in reading order.

    ``ast`` is pandoc's AST of the assembled paper (what the check parsed), so a citation
    counts where it really stands, generated blocks included. Sections are the headings of
    the highest level used; a section whose identifier is unusual is left out.
    """
    if not ast:
        return {}
    blocks = ast.get("blocks", [])
    levels = [b["c"][0] for b in blocks if b.get("t") == "Header"]
    top = min(levels, default=1)
    found: dict[str, list[CitingSection]] = {}
    current: CitingSection | None = None
    for block in blocks:
        if block.get("t") == "Header" and block["c"][0] == top:
            ident = str(block["c"][1][0])
            current = CitingSection(ident, stringify(block["c"][2])) if _SECTION_ID.match(ident) else None
            continue
        if current is None:
            continue
        for citation, _group, _nested in all_cites(block):
            sections = found.setdefault(str(citation["citationId"]), [])
            if current not in sections:
                sections.append(current)
    return found


def linked_outputs(documents: tuple[str, ...], formats: tuple[str, ...], tex_ok: bool) -> frozenset[str]:
    """The files a build of ``documents`` in ``formats`` writes: what the HTML may link to.

    ``documents`` are the build's names (``paper``, ``bibliography``). A link is made only to
    a file this build produces, so a partial build never links to a file that may not exist.
    """
    stems = {"paper": "paper", "bibliography": "annotated-bibliography"}
    files = set()
    for document in documents:
        stem = stems[document]
        if "html" in formats:
            files.add(f"{stem}.html")
        if "pdf" in formats and tex_ok:
            files.add(f"{stem}.pdf")
        if document == "paper" and "docx" in formats:
            files.add("paper.docx")
    return frozenset(files)


def _links(document: str, outputs: frozenset[str]) -> dict[str, Any]:
    """Metadata for the HTML's links to the other outputs (filters/linked.lua, the HTML template)."""
    meta: dict[str, Any] = {}
    formats = [{"label": label, "href": f} for label, f in OTHER_FORMATS[document] if f in outputs]
    if formats:
        meta["other-formats"] = formats
    if document == "paper" and BIBLIOGRAPHY_HTML in outputs:
        meta["linked-bibliography"] = BIBLIOGRAPHY_HTML
    if document == "annotated-bibliography" and PAPER_HTML in outputs:
        meta["linked-paper"] = PAPER_HTML
    return meta


PREVIEW_SOURCE_WORDS = 60  # previews.lua shows 45 words; the rest absorbs markup cut in the middle


def _opening_paragraph(body: str) -> str:
    """The opening of a note body's first paragraph, as Markdown (filters/previews.lua cuts it to 45 words).

    Cut here too, so that editing a note beyond its opening words leaves the paper unchanged.
    """
    first = re.split(r"\n\s*\n", body.strip(), maxsplit=1)[0]
    return " ".join(first.split()[:PREVIEW_SOURCE_WORDS])


def paper_metadata(
    project: Project, notes: dict[str, Note] | None = None, outputs: frozenset[str] = frozenset()
) -> str:
    """The paper's pandoc metadata: the settings', plus the citation cards' data and links to ``outputs``.

    ``annotation-previews`` carries each note's first paragraph as Markdown text: pandoc
    renders it (raw HTML off), and filters/previews.lua flattens it to plain text before
    citeproc, so a note can neither add citations nor markup to the paper.
    """
    meta = dict(project.metadata)
    meta.update(_links("paper", outputs))
    if notes:
        meta["annotation-previews"] = {k: _opening_paragraph(notes[k].body) for k in sorted(notes)}
    return _metadata_yaml(meta)


def bibliography_metadata(project: Project, keys: list[str], outputs: frozenset[str] = frozenset()) -> str:
    """The annotated bibliography's pandoc metadata: every key in ``nocite``, and links to ``outputs``."""
    meta = {k: v for k, v in project.metadata.items() if k in ("author", "date", "lang", "subject", "fontsize")}
    meta["title"] = "Annotated bibliography"
    meta["subtitle"] = str(project.metadata.get("title", ""))
    meta["nocite"] = ", ".join(f"@{k}" for k in keys)
    meta["reference-section-title"] = ""
    meta.update(_links("annotated-bibliography", outputs))
    return _metadata_yaml(meta)
