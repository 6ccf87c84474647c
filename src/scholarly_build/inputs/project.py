"""The project: every path and setting, resolved once into a frozen object.

Settings live in ``manuscript/paper.yaml`` (documented in ``docs/settings.md``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scholarly_build.core.limits import MAX_OTHER_BYTES
from scholarly_build.core.problems import BuildFailed, Problems
from scholarly_build.core.safety import is_identifier
from scholarly_build.core.textfile import read_text
from scholarly_build.inputs import yamldoc
from scholarly_build.inputs.sources import SourceSettings, parse_settings

SETTINGS_FILE = Path("manuscript/paper.yaml")
DEFAULT_CROSSREF_PREFIXES = ("fig:", "tbl:", "eq:", "sec:")
FONT_SIZES = ("10pt", "11pt", "12pt")
PDF_ENGINES = ("xelatex", "lualatex")
CITATION_METHODS = ("citeproc", "biblatex")
FONT_ROLES = ("main", "sans", "mono")
FONT_NAME = re.compile(r"[^\W_][\w .+-]{0,99}")  # letters/digits, spaces, - _ . +: nothing TeX reads as code
LANG_TAG = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*")
CROSSREF_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}:")


@dataclass(frozen=True)
class Theme:
    id: str
    label: str


@dataclass(frozen=True)
class Work:
    key: str
    label: str


@dataclass(frozen=True)
class Figure:
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
        return self.root / "bib" / "notes"

    @property
    def sections_dir(self) -> Path:
        return self.root / "manuscript" / "sections"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def figures_dir(self) -> Path:
        return self.root / "figures"

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def theme_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.themes)

    @property
    def work_keys(self) -> tuple[str, ...]:
        return tuple(w.key for w in self.works)

    def inside(self, path: Path) -> bool:
        """True when ``path`` (after resolving symlinks) lies within the project."""
        try:
            path.resolve().relative_to(self.root.resolve())
        except ValueError:
            return False
        return True


def _str(doc: yamldoc.YamlDoc, problems: Problems, path: Path, key: str, default: str | None = None) -> str:
    value = doc.data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        problems.error(
            "settings",
            f"`{key}` must be a non-empty string",
            path=path,
            line=doc.line(key),
            hint=f"set `{key}:` in {SETTINGS_FILE}",
        )
        return default or ""
    return value


def load_project(root: Path) -> Project:
    """Read and validate the settings; raise BuildFailed listing every problem."""
    root = root.resolve()
    path = root / SETTINGS_FILE
    problems = Problems(root)
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
    data: dict[str, Any] = doc.data

    title = _str(doc, problems, path, "title")
    csl = _str(doc, problems, path, "csl", "chicago-author-date")
    engine = data.get("pdf_engine", "xelatex")
    if engine not in PDF_ENGINES:
        problems.error(
            "settings",
            f"unknown pdf_engine {engine!r}",
            path=path,
            line=doc.line("pdf_engine"),
            hint=f"use one of: {', '.join(PDF_ENGINES)}",
        )
    citations = data.get("citations", "citeproc")
    if citations not in CITATION_METHODS:
        problems.error(
            "settings",
            f"unknown citations method {citations!r}",
            path=path,
            line=doc.line("citations"),
            hint=f"use one of: {', '.join(CITATION_METHODS)}",
        )
    fontsize = data.get("fontsize", "10pt")
    if fontsize not in FONT_SIZES:
        problems.error(
            "settings",
            f"unknown fontsize {fontsize!r}",
            path=path,
            line=doc.line("fontsize"),
            hint=f"use one of: {', '.join(FONT_SIZES)} (the sizes the article class has)",
        )
        fontsize = "10pt"
    fonts = data.get("fonts", {}) or {}
    if not isinstance(fonts, dict) or not all(isinstance(v, str) for v in fonts.values()):
        problems.error("settings", "`fonts` must map main/sans/mono to font names", path=path, line=doc.line("fonts"))
        fonts = {}
    for role, font in list(fonts.items()):
        # Font names reach the LaTeX preamble as they are: only a font name's characters pass.
        if role not in FONT_ROLES:
            problems.error(
                "settings",
                f"unknown font role {role!r}",
                path=path,
                line=doc.line("fonts", role),
                hint=f"use {', '.join(FONT_ROLES)}",
            )
            fonts.pop(role)
        elif not FONT_NAME.fullmatch(font):
            problems.error(
                "unsafe-setting",
                f"font name {font!r} has characters a font name does not have",
                path=path,
                line=doc.line("fonts", role),
                hint="letters, digits, spaces and - _ . + only; `fc-list : family` lists the installed fonts",
            )
            fonts.pop(role)
    for key in ("lang",):
        value = data.get(key)
        if value is not None and not (isinstance(value, str) and LANG_TAG.fullmatch(value)):
            problems.error(
                "unsafe-setting",
                f"`{key}` must be a language tag such as en-GB, not {value!r}",
                path=path,
                line=doc.line(key),
                hint="a BCP 47 tag: letters and digits in parts joined by -",
            )

    works: list[Work] = []
    for i, item in enumerate(data.get("works") or []):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            problems.error("settings", "each work needs `key` and `label`", path=path, line=doc.line("works", i))
            continue
        works.append(Work(item["key"], str(item.get("label", item["key"]))))
    themes: list[Theme] = []
    for i, item in enumerate(data.get("themes") or []):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            problems.error("settings", "each theme needs `id` and `label`", path=path, line=doc.line("themes", i))
            continue
        themes.append(Theme(item["id"], str(item.get("label", item["id"]))))
    if not themes:
        problems.error("settings", "`themes` must list at least one theme", path=path, line=doc.line("themes"))

    sections: list[SectionRef] = []
    for i, item in enumerate(data.get("sections") or []):
        line = doc.line("sections", i)
        if isinstance(item, str):
            sections.append(SectionRef(Path(item), None, line))
        elif isinstance(item, dict) and item.get("generated") in GENERATED_BLOCKS:
            sections.append(SectionRef(None, str(item["generated"]), line))
        else:
            problems.error(
                "settings",
                f"bad section entry {item!r}",
                path=path,
                line=line,
                hint=f"give a file name or {{generated: {' | '.join(GENERATED_BLOCKS)}}}",
            )

    figures: list[Figure] = []
    for i, item in enumerate(data.get("figures") or []):
        line = doc.line("figures", i)
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("id", "script", "data")):
            problems.error("settings", "each figure needs `id`, `script` and `data`", path=path, line=line)
            continue
        if not is_identifier(item["id"]):
            # The id names files under build/figures/: never a path.
            problems.error(
                "settings",
                f"figure id {item['id']!r} is not an identifier",
                path=path,
                line=line,
                hint="start with a letter; letters, digits, - and _ only (at most 64)",
            )
            continue
        data_path = None if item["data"] == "notes" else Path(item["data"])
        figures.append(Figure(item["id"], Path(item["script"]), data_path, line))

    bib = data.get("bibliography", ["bib/references.bib"])
    if isinstance(bib, str):
        bib = [bib]
    if not isinstance(bib, list) or not all(isinstance(b, str) for b in bib):
        problems.error(
            "settings", "`bibliography` must be a path or a list of paths", path=path, line=doc.line("bibliography")
        )
        bib = []
    for b in bib:
        if not (root / b).resolve().is_relative_to(root):
            problems.error(
                "unsafe-path",
                f"bibliography {b!r} resolves outside the project",
                path=path,
                line=doc.line("bibliography"),
                hint="keep .bib files inside the project",
            )
    prefixes = data.get("crossref_prefixes", list(DEFAULT_CROSSREF_PREFIXES))
    if not isinstance(prefixes, list) or not all(isinstance(x, str) for x in prefixes):
        problems.error(
            "settings",
            "`crossref_prefixes` must be a list of strings such as fig:",
            path=path,
            line=doc.line("crossref_prefixes"),
        )
        prefixes = list(DEFAULT_CROSSREF_PREFIXES)
    bad_prefixes = [x for x in prefixes if not CROSSREF_PREFIX.fullmatch(x)]
    if bad_prefixes:
        problems.error(
            "unsafe-setting",
            f"cross-reference prefix {bad_prefixes[0]!r} is not a word followed by a colon",
            path=path,
            line=doc.line("crossref_prefixes"),
            hint="for example fig: or tbl:",
        )
        prefixes = list(DEFAULT_CROSSREF_PREFIXES)
    bounds = {}
    for key, default in (("annotation_min_words", 80), ("annotation_max_words", 200)):
        value = data.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            problems.error("settings", f"`{key}` must be a whole number, not {value!r}", path=path, line=doc.line(key))
            value = default
        bounds[key] = value

    check_cfg = data.get("check") or {}
    policy: dict[str, tuple[str, ...]] = {"select": (), "ignore": ()}
    if not isinstance(check_cfg, dict):
        problems.error(
            "settings", "`check` must be a mapping with `select` and/or `ignore`", path=path, line=doc.line("check")
        )
    else:
        for key in ("select", "ignore"):
            value = check_cfg.get(key, [])
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems.error(
                    "settings", f"`check.{key}` must be a list of problem codes", path=path, line=doc.line("check")
                )
                continue
            policy[key] = tuple(value)

    metadata: dict[str, Any] = {
        k: data[k] for k in ("title", "subtitle", "date", "lang", "subject", "keywords", "abstract") if k in data
    }
    metadata["title"] = title
    if "fontsize" in data:
        metadata["fontsize"] = str(fontsize)  # the LaTeX template's class option
    authors = data.get("authors") or []
    if not isinstance(authors, list):
        problems.error(
            "settings", "`authors` must be a list of {name, affiliation}", path=path, line=doc.line("authors")
        )
        authors = []
    metadata["author"] = [str(a.get("name", "")) if isinstance(a, dict) else str(a) for a in authors]

    sources = parse_settings(data, doc.line, problems, path)

    if problems.errors:
        raise BuildFailed(problems=problems)
    return Project(
        root=root,
        settings_path=path,
        metadata=metadata,
        csl=csl,
        pdf_engine=str(engine),
        citations=str(citations),
        fonts={str(k): str(v) for k, v in fonts.items()},
        works=tuple(works),
        themes=tuple(themes),
        sections=tuple(sections),
        figures=tuple(figures),
        bibliography=tuple(root / str(b) for b in bib),
        crossref_prefixes=tuple(str(p) for p in prefixes),
        annotation_min_words=bounds["annotation_min_words"],
        annotation_max_words=bounds["annotation_max_words"],
        settings_lines={str(k): doc.line(str(k)) for k in data},
        check_select=policy["select"],
        check_ignore=policy["ignore"],
        sources=sources,
    )
