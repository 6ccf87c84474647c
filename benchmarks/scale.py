"""Generated projects of any size, for `invoke bench --scale` (thesis scale).

:func:`generate` copies this repository's settings, templates and figure scripts,
keeps the two compared works (their entries and notes: the comparison table is
built from them) and adds ``notes - 2`` generated entries, each with a valid note,
plus generated sections that cite every note, about ``words_per_note`` words of
prose per note (400 words per note gives about 40 PDF pages per 50 notes). The
text is made from a fixed vocabulary with a seeded generator, so a size always
gives the same project. It writes only below ``dest`` and runs nothing.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import yaml

from scholarly_build.building.reproducible import copy_project

REPO = Path(__file__).resolve().parents[1]
WORKS = ("jorbenadze2018belarus", "behrends2016belarus")
NOTES_PER_SECTION = 10
_VOCABULARY = (
    "the state regime policy elite reform trade energy market border treaty union partner "
    "economy identity language history memory nation party parliament election president "
    "ministry budget subsidy price pipeline oil gas debt loan credit export import balance "
    "argument evidence source archive survey interview record report chapter account reading "
    "claim thesis article author scholar period decade year crisis change continuity pressure "
    "influence alliance neighbour region capital province factory worker farmer citizen voter "
    "shows suggests argues notes finds describes explains compares traces questions assumes "
    "early late recent official informal formal public private central local foreign domestic "
    "strong weak stable uncertain narrow broad careful detailed brief limited open closed"
).split()


def _words(rng: random.Random, n: int) -> str:
    words = [rng.choice(_VOCABULARY) for _ in range(n)]
    sentences, i = [], 0
    while i < len(words):
        length = rng.randint(9, 18)
        chunk = words[i : i + length]
        sentences.append(" ".join(chunk).capitalize() + ".")
        i += length
    return " ".join(sentences)


def _entry(key: str, i: int) -> str:
    return (
        f"@article{{{key},\n  author = {{Family{i}, Given}},\n  title = {{A Study of Topic {i}}},\n"
        f"  journaltitle = {{Journal {i % 40}}},\n  date = {{{1960 + i % 60}}},\n  volume = {{{i % 30 + 1}}},\n"
        f"  pages = {{1--{i % 200 + 20}}},\n}}\n"
    )


def _note(key: str, i: int, themes: list[str], rng: random.Random) -> str:
    work = WORKS[i % 2]
    theme = themes[i % len(themes)]
    return (
        f"---\nkey: {key}\nmetadata: complete\nauthor: \"Family{i}, Given\"\nyear: {1960 + i % 60}\n"
        f"themes: [{theme}]\nsummary: >-\n  {_words(rng, 25)}\nuses:\n  {work}:\n"
        f'    - locator: "sec. {i % 9 + 1}"\n      how: "{_words(rng, 14)}"\n'
        f'claims:\n  - claim: "{_words(rng, 14)}"\n    locator: "p. {i % 20 + 1}"\n---\n'
        f"{_words(rng, 110)}\n"
    )


def _section(part: int, keys: list[str], words_per_note: int, rng: random.Random, figures: list[str]) -> str:
    out = [f"# Part {part + 1} {{#sec:part-{part + 1}}}\n"]
    if part == 0:
        out += [f"{line}\n" for line in figures]
    paragraphs = max(1, words_per_note // 100)
    for key in keys:
        for p in range(paragraphs):
            out.append(f"{_words(rng, 95)} [@{key}, p. {p + 1}].\n")
    return "\n".join(out)


def _keep_entries(bib: str) -> str:
    """The two compared works' entries from this repository's .bib."""
    kept = []
    for block in re.split(r"(?m)^(?=@)", bib):
        m = re.match(r"@\w+\{([^,]+),", block)
        if m and m.group(1) in WORKS:
            kept.append(block.rstrip() + "\n")
    return "\n".join(kept)


def generate(dest: Path, notes: int, words_per_note: int = 400, seed: int = 17) -> Path:
    """Write a project of ``notes`` notes (the two works included) below ``dest``; return ``dest``."""
    if notes < 3:
        raise ValueError("a generated project needs at least 3 notes")
    rng = random.Random(seed + notes)  # noqa: S311 - reproducible test data, not cryptography
    copy_project(REPO, dest)
    settings_path = dest / "manuscript" / "paper.yaml"
    settings = yaml.safe_load(settings_path.read_text(encoding="utf-8"))
    themes = [t["id"] for t in settings["themes"]]
    figures = [
        line
        for path in sorted((REPO / "manuscript" / "sections").glob("*.md"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith("![") and "{#fig:" in line
    ]
    notes_dir = dest / "bib" / "notes"
    for path in notes_dir.glob("*.md"):
        if path.stem not in WORKS:
            path.unlink()
    keys = [f"scale{i:05d}" for i in range(notes - len(WORKS))]
    bib = _keep_entries((REPO / "bib" / "references.bib").read_text(encoding="utf-8"))
    bib += "\n" + "\n".join(_entry(key, i) for i, key in enumerate(keys))
    (dest / "bib" / "references.bib").write_text(bib, encoding="utf-8")
    for i, key in enumerate(keys):
        (notes_dir / f"{key}.md").write_text(_note(key, i, themes, rng), encoding="utf-8")
    sections_dir = dest / "manuscript" / "sections"
    for path in sections_dir.glob("*.md"):
        path.unlink()
    names = []
    for part, first in enumerate(range(0, len(keys), NOTES_PER_SECTION)):
        name = f"gen-{part:03d}.md"
        group = keys[first : first + NOTES_PER_SECTION]
        (sections_dir / name).write_text(_section(part, group, words_per_note, rng, figures), encoding="utf-8")
        names.append(name)
    settings["sections"] = [*names, {"generated": "comparison-table"}, {"generated": "sources-by-theme"}]
    for key in ("sources_dir", "sources", "overlap_words", "overlap_severity"):
        settings.pop(key, None)  # the compared works' texts are not part of a generated project
    settings_path.write_text(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return dest
