"""The project: every path and setting, resolved once into a frozen object.

Settings live in ``manuscript/paper.yaml``; their schema is ``inputs/schemas/settings.schema.json``,
documented in ``docs/settings.md`` (``tests/test_schemas.py`` keeps the two in step). Templates
resolve here too: a file in the project's ``templates/`` overrides the engine's default of the same
relative path (``scholarly_build/templates/``). This module only reads; it never writes a file,
and a path from the settings that leaves the project is refused, never followed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scholarly_build.core.limits import MAX_OTHER_BYTES
from scholarly_build.core.problems import BuildFailed, Problems
from scholarly_build.core.textfile import read_text
from scholarly_build.inputs import schema, yamldoc
from scholarly_build.inputs.sources import SourceSettings, parse_settings

SETTINGS_FILE = Path("manuscript/paper.yaml")
# The engine's default templates, Lua filters and pandoc defaults (package data).
PACKAGE_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
DEFAULT_CROSSREF_PREFIXES = ("fig:", "tbl:", "eq:", "sec:")


@dataclass(frozen=True)
class Theme:
    """A comparison theme (`themes` in the settings)."""

    id: str
    label: str


@dataclass(frozen=True)
class Work:
    """A compared work (`works` in the settings): its BibTeX key and its label."""

    key: str
    label: str


@dataclass(frozen=True)
class Figure:
    """A figure script, its data and the line of its entry in the settings."""

    id: str
    script: Path
    data: Path | None  # None: the engine generates the data from the notes
    line: int


@dataclass(frozen=True)
class SectionRef:
    """An entry in the paper's section list: a Markdown file or a generated block."""

    path: Path | None
    generated: str | None
    line: int


GENERATED_BLOCKS = ("comparison-table", "sources-by-theme")


@dataclass(frozen=True)
class Project:
    """The resolved settings and paths of one project; built by ``load_project``."""

    root: Path
    settings_path: Path
    metadata: dict[str, Any]
    csl: str
    pdf_engine: str
    citations: str
    fonts: dict[str, str]
    works: tuple[Work, ...]
    themes: tuple[Theme, ...]
    sections: tuple[SectionRef, ...]
    figures: tuple[Figure, ...]
    bibliography: tuple[Path, ...]
    crossref_prefixes: tuple[str, ...] = DEFAULT_CROSSREF_PREFIXES
    annotation_min_words: int = 80
    annotation_max_words: int = 200
    settings_lines: dict[str, int] = field(default_factory=dict)
    check_select: tuple[str, ...] = ()
    check_ignore: tuple[str, ...] = ()
    sources: SourceSettings = field(default_factory=SourceSettings)  # texts of cited works (sources.py)

    @property
    def notes_dir(self) -> Path:
        """One note per entry: ``bib/notes/<key>.md``."""
        return self.root / "bib" / "notes"

    @property
    def sections_dir(self) -> Path:
        """The section files: ``manuscript/sections/``."""
        return self.root / "manuscript" / "sections"

    @property
    def templates_dir(self) -> Path:
        """The project's own templates (overrides of the engine's defaults)."""
        return self.root / "templates"

    def template_files(self) -> dict[str, Path]:
        """Every template by its relative path (``pandoc/common.yaml``), sorted as paths sort:
        the project's file where it has one, else the engine's default."""
        return resolve_templates(self.templates_dir)

    def template(self, name: str) -> Path | None:
        """The file that serves template ``name`` (a relative path), or None."""
        return self.template_files().get(name)

    def input_name(self, path: Path) -> str:
        """How manifests and explanations name an input (see ``input_name``)."""
        return input_name(self.root, path)

    @property
    def figures_dir(self) -> Path:
        """Figure scripts and their data: ``figures/``."""
        return self.root / "figures"

    @property
    def build_dir(self) -> Path:
        """Every output and cache: ``build/`` (never trusted as input)."""
        return self.root / "build"

    @property
    def theme_ids(self) -> tuple[str, ...]:
        """The ids of the comparison themes, in order."""
        return tuple(t.id for t in self.themes)

    @property
    def work_keys(self) -> tuple[str, ...]:
        """The BibTeX keys of the compared works, in order."""
        return tuple(w.key for w in self.works)

    def inside(self, path: Path) -> bool:
        """True when ``path`` (after resolving symlinks) lies within the project."""
        try:
            path.resolve().relative_to(self.root.resolve())
        except ValueError:
            return False
        return True


def _files_under(top: Path) -> dict[str, Path]:
    if not top.is_dir():
        return {}
    return {p.relative_to(top).as_posix(): p for p in top.rglob("*") if p.is_file() and p.name != "README.md"}


def input_name(root: Path, path: Path) -> str:
    """How manifests and explanations name an input: relative to the project, and a packaged
    default template as the project file it stands for (``templates/pandoc/common.yaml``)."""
    if path.is_relative_to(PACKAGE_TEMPLATES):  # first: in this repository the package lies inside the project
        return str(Path("templates") / path.relative_to(PACKAGE_TEMPLATES))
    if path.is_relative_to(root):
        return str(path.relative_to(root))
    return str(path)


def resolve_templates(project_templates: Path) -> dict[str, Path]:
    """The engine's default templates overlaid with the project's (same relative path wins), in
    the order ``sorted(Path)`` gives; a README.md in either folder is documentation, not a template."""
    files = _files_under(PACKAGE_TEMPLATES) | _files_under(project_templates)
    return {rel: files[rel] for rel in sorted(files, key=lambda rel: Path(rel).parts)}


# Settings for which any empty value (null, "", [], {}, 0, false) means "none": the loader reads them as
# `data.get(key) or []`, so the schema sees them only when they hold something.
# Worded by sources.parse_settings (a `sources` entry's file is checked there: its suffix rule is not a pattern).
SOURCE_SETTINGS = ("sources", "sources_dir", "overlap_words", "overlap_severity")
EMPTY_MEANS_NONE = ("authors", "fonts", "works", "themes", "sections", "figures", "check", "sources")


def _violations_by_setting(data: dict[str, Any]) -> dict[str, list[schema.Violation]]:
    """The schema's violations in ``paper.yaml``, grouped by the top-level key they concern."""
    grouped: dict[str, list[schema.Violation]] = {}
    checked = {k: v for k, v in data.items() if v or k not in EMPTY_MEANS_NONE}
    for v in schema.violations("settings", checked):
        key = str(v.path[0]) if v.path else str(v.field)
        grouped.setdefault(key, []).append(v)
    return grouped


class _Report:
    """Reports the settings' problems at the lines the YAML loader recorded."""

    def __init__(self, doc: yamldoc.YamlDoc, problems: Problems, path: Path) -> None:
        self.doc, self.problems, self.path = doc, problems, path

    def error(
        self, where: tuple[str | int, ...], message: str, code: str = "settings", hint: str | None = None
    ) -> None:
        """One problem at the line of ``where`` in the settings."""
        self.problems.error(code, message, path=self.path, line=self.doc.line(*where), hint=hint)


def _text(report: _Report, data: dict[str, Any], found: list[schema.Violation], key: str, default: str = "") -> str:
    """A non-empty string setting such as `title` or `csl`."""
    if found:
        report.error((key,), f"`{key}` must be a non-empty string", hint=f"set `{key}:` in {SETTINGS_FILE}")
        return default
    return str(data.get(key, default))


def _choice(report: _Report, found: list[schema.Violation], key: str, what: str, note: str = "") -> None:
    """A setting with a fixed set of values (`pdf_engine`, `citations`, `fontsize`)."""
    for v in found:
        report.error((key,), f"unknown {what} {v.instance!r}", hint=f"use one of: {', '.join(v.schema['enum'])}{note}")


def _fonts(report: _Report, data: dict[str, Any], found: list[schema.Violation]) -> dict[str, str]:
    """The PDF's fonts by role; a name reaches the LaTeX preamble as it is, so only a font name's characters pass."""
    if any(v.keyword == "type" for v in found):
        report.error(("fonts",), "`fonts` must map main/sans/mono to font names")
        return {}
    fonts: dict[str, str] = dict(data.get("fonts") or {})
    for v in found:
        if v.path == ("fonts",):  # from `propertyNames`: the role itself is the instance
            role = str(v.instance)
            report.error(("fonts", role), f"unknown font role {role!r}", hint=f"use {', '.join(v.schema['enum'])}")
        else:
            role, font = str(v.path[1]), v.instance
            report.error(
                ("fonts", role),
                f"font name {font!r} has characters a font name does not have",
                code="unsafe-setting",
                hint="letters, digits, spaces and - _ . + only; `fc-list : family` lists the installed fonts",
            )
        fonts.pop(role, None)
    return fonts


def _lang(report: _Report, data: dict[str, Any], found: list[schema.Violation]) -> None:
    """`lang` is a BCP 47 language tag: it reaches HTML, LaTeX and the CSL locale."""
    if found:
        report.error(
            ("lang",),
            f"`lang` must be a language tag such as en-GB, not {data['lang']!r}",
            code="unsafe-setting",
            hint="a BCP 47 tag: letters and digits in parts joined by -",
        )


def _works(report: _Report, data: dict[str, Any], found: list[schema.Violation]) -> list[Work]:
    """The compared works; an entry without a string `key` is reported and left out."""
    bad = {v.path[:2] for v in found}
    for where in sorted(bad, key=str):
        report.error(where, "each work needs `key` and `label`")
    if ("works",) in bad:
        return []
    items = data.get("works") or []
    return [Work(w["key"], str(w.get("label", w["key"]))) for i, w in enumerate(items) if ("works", i) not in bad]


def _themes(report: _Report, data: dict[str, Any], found: list[schema.Violation]) -> list[Theme]:
    """The comparison themes: at least one, each with a string `id`."""
    bad = {v.path[:2] for v in found if v.path}
    for where in sorted(bad, key=str):
        report.error(where, "each theme needs `id` and `label`")
    items = data.get("themes") or [] if ("themes",) not in bad else []
    themes = [Theme(t["id"], str(t.get("label", t["id"]))) for i, t in enumerate(items) if ("themes", i) not in bad]
    if not themes:
        report.error(("themes",), "`themes` must list at least one theme")
    return themes


def _sections(report: _Report, data: dict[str, Any], found: list[schema.Violation]) -> list[SectionRef]:
    """The paper's sections: a file name, or a block generated from the notes."""
    bad = {v.path[:2] for v in found}
    hint = f"give a file name or {{generated: {' | '.join(GENERATED_BLOCKS)}}}"
    if ("sections",) in bad:
        report.error(("sections",), f"bad section entry {data['sections']!r}", hint=hint)
        return []
    sections: list[SectionRef] = []
    for i, item in enumerate(data.get("sections") or []):
        line = report.doc.line("sections", i)
        if ("sections", i) in bad:
            report.error(("sections", i), f"bad section entry {item!r}", hint=hint)
        elif isinstance(item, str):
            sections.append(SectionRef(Path(item), None, line))
        else:
            sections.append(SectionRef(None, str(item["generated"]), line))
    return sections


def _figures(report: _Report, data: dict[str, Any], found: list[schema.Violation]) -> list[Figure]:
    """The figure scripts; a figure's id names files under build/figures/, so it is never a path."""
    if any(v.path == ("figures",) for v in found):
        report.error(("figures",), "each figure needs `id`, `script` and `data`")
        return []
    figures: list[Figure] = []
    for i, item in enumerate(data.get("figures") or []):
        faults = [v for v in found if v.path[:2] == ("figures", i)]
        if any(v.path != ("figures", i, "id") or v.keyword != "pattern" for v in faults):
            report.error(("figures", i), "each figure needs `id`, `script` and `data`")
        elif faults:
            report.error(
                ("figures", i),
                f"figure id {item['id']!r} is not an identifier",
                hint="start with a letter; letters, digits, - and _ only (at most 64)",
            )
        else:
            data_path = None if item["data"] == "notes" else Path(item["data"])
            figures.append(Figure(item["id"], Path(item["script"]), data_path, report.doc.line("figures", i)))
    return figures


def _bibliography(report: _Report, root: Path, data: dict[str, Any], found: list[schema.Violation]) -> list[str]:
    """The .bib files, each of which must resolve inside the project."""
    if found:
        report.error(("bibliography",), "`bibliography` must be a path or a list of paths")
        return []
    bib = data.get("bibliography", ["bib/references.bib"])
    bib = [bib] if isinstance(bib, str) else list(bib)
    for b in bib:
        if not (root / b).resolve().is_relative_to(root):
            report.error(
                ("bibliography",),
                f"bibliography {b!r} resolves outside the project",
                code="unsafe-path",
                hint="keep .bib files inside the project",
            )
    return bib


def _crossref_prefixes(report: _Report, data: dict[str, Any], found: list[schema.Violation]) -> tuple[str, ...]:
    """Prefixes of cross-reference labels: each a word followed by a colon."""
    if any(v.keyword == "type" for v in found):
        report.error(("crossref_prefixes",), "`crossref_prefixes` must be a list of strings such as fig:")
        return DEFAULT_CROSSREF_PREFIXES
    if found:
        first = min(found, key=lambda v: v.path)
        report.error(
            ("crossref_prefixes",),
            f"cross-reference prefix {first.instance!r} is not a word followed by a colon",
            code="unsafe-setting",
            hint="for example fig: or tbl:",
        )
        return DEFAULT_CROSSREF_PREFIXES
    return tuple(str(p) for p in data.get("crossref_prefixes", DEFAULT_CROSSREF_PREFIXES))


def _word_bound(report: _Report, data: dict[str, Any], found: list[schema.Violation], key: str, default: int) -> int:
    """`annotation_min_words` / `annotation_max_words`: a whole number."""
    if found:
        report.error((key,), f"`{key}` must be a whole number, not {data[key]!r}")
        return default
    return int(data.get(key, default))


def _check_policy(report: _Report, data: dict[str, Any], found: list[schema.Violation]) -> dict[str, tuple[str, ...]]:
    """`check: {select, ignore}`: which problem codes `check` reports."""
    policy: dict[str, tuple[str, ...]] = {"select": (), "ignore": ()}
    if any(v.path == ("check",) for v in found):
        report.error(("check",), "`check` must be a mapping with `select` and/or `ignore`")
        return policy
    cfg = data.get("check") or {}
    for key in policy:
        if any(v.path[:2] == ("check", key) for v in found):
            report.error(("check",), f"`check.{key}` must be a list of problem codes")
            continue
        value = cfg.get(key, [])
        policy[key] = (value,) if isinstance(value, str) else tuple(value)
    return policy


def _metadata(report: _Report, data: dict[str, Any], found: list[schema.Violation], title: str) -> dict[str, Any]:
    """The document metadata pandoc receives: title, authors, date, language and the rest."""
    metadata: dict[str, Any] = {
        k: data[k] for k in ("title", "subtitle", "date", "lang", "subject", "keywords", "abstract") if k in data
    }
    metadata["title"] = title
    if "fontsize" in data:
        metadata["fontsize"] = str(data["fontsize"])  # the LaTeX template's class option
    authors = data.get("authors") or []
    if found:
        report.error(("authors",), "`authors` must be a list of {name, affiliation}")
        authors = []
    metadata["author"] = [str(a.get("name", "")) if isinstance(a, dict) else str(a) for a in authors]
    return metadata


def _read_settings(root: Path, path: Path, problems: Problems) -> yamldoc.YamlDoc:
    """The settings file as a YAML mapping with lines; raise BuildFailed when it cannot be read as one."""
    if not path.is_file():
        raise BuildFailed(
            f"{SETTINGS_FILE}: error settings: the settings file is missing\n"
            f"    hint: run from the project root, or pass --root"
        )
    if not path.resolve().is_relative_to(root):
        raise BuildFailed(
            f"{SETTINGS_FILE}: error unsafe-path: the settings file is a link that leaves the project; "
            "it was not read\n"
            "    hint: replace the link with the file itself"
        )
    text = read_text(path, problems, limit=MAX_OTHER_BYTES, kind="the settings file")
    try:
        doc = yamldoc.load(text or "")
    except yamldoc.YamlError as exc:
        problems.error("settings", exc.message, path=path, line=exc.line)
        raise BuildFailed(problems=problems) from None
    if not isinstance(doc.data, dict):
        problems.error("settings", "the settings must be a YAML mapping", path=path, line=1)
        raise BuildFailed(problems=problems)
    return doc


def load_project(root: Path) -> Project:
    """Read the settings, validate them against ``schemas/settings.schema.json`` and the rules a
    schema cannot express; raise BuildFailed listing every problem."""
    root = root.resolve()
    path = root / SETTINGS_FILE
    problems = Problems(root)
    doc = _read_settings(root, path, problems)
    fields = _parse(_Report(doc, problems, path), root, doc.data)
    if problems.errors:
        raise BuildFailed(problems=problems)
    return Project(root=root, settings_path=path, settings_lines={str(k): doc.line(str(k)) for k in doc.data}, **fields)


def _parse(report: _Report, root: Path, data: dict[str, Any]) -> dict[str, Any]:
    """Every setting as the ``Project`` field it becomes; each problem is reported, none raised."""
    found = _violations_by_setting(data)

    def at(key: str) -> list[schema.Violation]:
        return found.get(key, [])

    # In the order the problems are reported.
    title = _text(report, data, at("title"), "title")
    fields: dict[str, Any] = {"csl": _text(report, data, at("csl"), "csl", "chicago-author-date")}
    _choice(report, at("pdf_engine"), "pdf_engine", "pdf_engine")
    _choice(report, at("citations"), "citations", "citations method")
    _choice(report, at("fontsize"), "fontsize", "fontsize", " (the sizes the article class has)")
    fields["fonts"] = _fonts(report, data, at("fonts"))
    _lang(report, data, at("lang"))
    fields |= {
        "works": tuple(_works(report, data, at("works"))),
        "themes": tuple(_themes(report, data, at("themes"))),
        "sections": tuple(_sections(report, data, at("sections"))),
        "figures": tuple(_figures(report, data, at("figures"))),
        "bibliography": tuple(root / str(b) for b in _bibliography(report, root, data, at("bibliography"))),
        "crossref_prefixes": _crossref_prefixes(report, data, at("crossref_prefixes")),
        "annotation_min_words": _word_bound(report, data, at("annotation_min_words"), "annotation_min_words", 80),
        "annotation_max_words": _word_bound(report, data, at("annotation_max_words"), "annotation_max_words", 200),
    }
    policy = _check_policy(report, data, at("check"))
    fields |= {"check_select": policy["select"], "check_ignore": policy["ignore"]}
    fields["metadata"] = _metadata(report, data, at("authors"), title)
    # `sources`, `sources_dir`, `overlap_words` and `overlap_severity`: sources.py words their messages.
    invalid = {key for key in SOURCE_SETTINGS if any(v.path == (key,) for v in at(key))}
    fields["sources"] = parse_settings(data, report.doc.line, report.problems, report.path, invalid)
    fields["pdf_engine"] = str(data.get("pdf_engine", "xelatex"))
    fields["citations"] = str(data.get("citations", "citeproc"))
    return fields
