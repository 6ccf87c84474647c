"""``init DIR``: a new project with this repository's layout, from the files in ``skeleton/``.

The skeleton is package data, not Python strings: each file is copied to the same relative path,
``dot-NAME`` becoming ``.NAME`` (hidden files are not package data) and ``NAME.j2`` being rendered
with Jinja (sandboxed, undefined names an error) into ``NAME``. The note and settings schemas are
copied into ``.schemas/`` so the editors' YAML language server finds them by a relative path.
This module must never overwrite a file: every file is created exclusively, and an existing one is
kept and reported; a non-empty folder is refused unless ``force`` is given.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from scholarly_build import __version__
from scholarly_build.core.problems import BuildFailed, Problems
from scholarly_build.core.safety import is_inside, is_safe_key
from scholarly_build.inputs.bibliography import load_bibliography
from scholarly_build.inputs.project import load_project
from scholarly_build.inputs.scaffold import write_note

SKELETON = Path(__file__).resolve().parent / "skeleton"
SCHEMAS = Path(__file__).resolve().parents[1] / "inputs" / "schemas"
# The example entries of the skeleton's bib/references.bib: label and number of chapters (the figure's data).
EXAMPLES = {
    "hobbes1651leviathan": ("Hobbes (1651)", 47),
    "mill1859liberty": ("Mill (1859)", 5),
    "locke1690treatises": ("Locke (1690)", 30),  # 11 chapters (first treatise) + 19 (second)
}
DEFAULT_WORKS = ("hobbes1651leviathan", "mill1859liberty")


class InitSettings(Protocol):
    """What ``init`` is told (``cli.InitOptions`` has these fields)."""

    @property
    def title(self) -> str:
        """The paper's title."""
    @property
    def author(self) -> str:
        """The author's name."""
    @property
    def csl(self) -> str:
        """A CSL style name."""
    @property
    def work(self) -> Sequence[str] | None:
        """The compared works' BibTeX keys; None: the examples."""
    @property
    def force(self) -> bool:
        """Write into a non-empty folder (existing files are still kept)."""


@dataclass
class InitReport:
    """The files ``init`` wrote and those it kept because they existed (relative to the project)."""

    created: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)


def _works(keys: Sequence[str] | None) -> list[dict[str, object]]:
    """The compared works: two or more distinct safe keys, each with a label and a chapter count."""
    chosen = list(keys) if keys else list(DEFAULT_WORKS)
    bad = [k for k in chosen if not is_safe_key(k)]
    if bad:
        raise BuildFailed(
            f"error init: {bad[0]!r} is not a usable BibTeX key\n    hint: letters, digits and _ : . + - only"
        )
    if len(set(chosen)) < 2:
        raise BuildFailed("error init: a comparison needs two or more different works\n    hint: --work KEY --work KEY")
    return [
        {"key": k, "label": EXAMPLES[k][0] if k in EXAMPLES else k, "chapters": EXAMPLES[k][1] if k in EXAMPLES else 1}
        for k in dict.fromkeys(chosen)
    ]


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        # `{#fig:x}` (pandoc attributes) would open a Jinja comment.
        comment_start_string="{##",
        comment_end_string="##}",
    )
    # A JSON string is a YAML double-quoted scalar: any title or name is written safely.
    env.filters["yaml"] = lambda value: json.dumps(str(value), ensure_ascii=False)
    return env


def _target(rel: Path) -> Path:
    """Where a skeleton file goes: ``dot-x`` -> ``.x`` in every part, ``.j2`` dropped."""
    parts = ["." + p.removeprefix("dot-") if p.startswith("dot-") else p for p in rel.parts]
    return Path(*parts[:-1], parts[-1].removesuffix(".j2"))


def _files(settings: InitSettings, name: str) -> dict[Path, bytes]:
    """Every file of the new project: relative path -> content."""
    works = _works(settings.work)
    context = {
        "title": settings.title,
        "author": settings.author,
        "csl": settings.csl,
        "works": works,
        "placeholders": [w for w in works if w["key"] not in EXAMPLES],
        "version": __version__,
        "name": name,
        "year": str(date.today().year),
    }
    env = _environment()
    files: dict[Path, bytes] = {}
    for path in sorted(SKELETON.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(SKELETON)
        if path.suffix == ".j2":
            files[_target(rel)] = env.from_string(path.read_text(encoding="utf-8")).render(context).encode()
        else:
            files[_target(rel)] = path.read_bytes()
    for schema in ("note.schema.json", "settings.schema.json"):
        files[Path(".schemas") / schema] = (SCHEMAS / schema).read_bytes()
    return files


def _write(root: Path, files: dict[Path, bytes], report: InitReport) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not is_inside(path.parent, root):  # a link in an existing folder (--force) that leaves it
            raise BuildFailed(f"{rel.parent}: error unsafe-path: a link out of {root}; nothing more was written")
        try:
            with path.open("xb") as fh:  # "x": fails rather than overwrite
                fh.write(data)
        except FileExistsError:
            report.skipped.append(rel)
            continue
        if rel.parent.name == ".ci" or rel.suffix == ".sh":
            path.chmod(0o755)
        report.created.append(rel)


def create_project(root: Path, settings: InitSettings) -> InitReport:
    """Write a new project into ``root``; BuildFailed when it is a non-empty folder and not ``force``."""
    if root.exists() and not root.is_dir():
        raise BuildFailed(f"{root}: error init: not a folder\n    hint: name a new or empty folder")
    if root.is_dir() and any(root.iterdir()) and not settings.force:
        raise BuildFailed(
            f"{root}: error init: the folder is not empty; nothing was written\n"
            "    hint: name a new folder, or add --force to add the missing files (existing files are kept)"
        )
    name = root.resolve().name or "paper"
    files = _files(settings, name)
    report = InitReport()
    root.mkdir(parents=True, exist_ok=True)
    _write(root, files, report)
    _placeholder_notes(root, settings, report)
    return report


def _placeholder_notes(root: Path, settings: InitSettings, report: InitReport) -> None:
    """A note for each compared work that is not an example, written as ``new-note`` writes it."""
    keys = [str(w["key"]) for w in _works(settings.work) if w["key"] not in EXAMPLES]
    if not keys:
        return
    project = load_project(root)
    bib = load_bibliography(list(project.bibliography), Problems(project.root))
    for key in keys:
        entry = bib.get(key)
        written = write_note(project, entry) if entry is not None else None
        rel = Path("bib/notes") / f"{key}.md"
        (report.created if written is not None else report.skipped).append(rel)
