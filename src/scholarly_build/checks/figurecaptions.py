"""Figure captions against their data: a caption's year range must be the data's.

A caption written once ("Events of 1991–2018") goes stale when the data changes,
and nothing else notices. For each declared figure with a CSV data file, the
years in its date columns give the range the picture can show; a year range in
the caption that differs is a warning (``figure-caption-range``) naming both.
This is a heuristic (a caption may describe a wider period on purpose), so it
never fails a build. It reads sections and data; it writes nothing.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from scholarly_build.core.pandoc import PandocError, parse_markdown
from scholarly_build.core.problems import Problems
from scholarly_build.core.textfile import read_text
from scholarly_build.inputs.project import Figure, Project

DATE_COLUMNS = ("year", "year_start", "year_end", "start", "end", "date", "from", "to")
CAPTION_RANGE = re.compile(r"\b(1\d{3}|20\d{2})\s*[–—-]\s*(\d{2,4})\b")


def data_years(path: Path) -> tuple[int, int] | None:
    """(first, last) year in the date columns of a CSV data file (``#`` lines skipped), or None."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(line for line in handle if not line.lstrip().startswith("#")))
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    years = [
        int(m.group(1))
        for row in rows
        for column, value in row.items()
        if column and column.strip().lower() in DATE_COLUMNS and value
        for m in [re.match(r"\s*(\d{4})\b", value)]
        if m
    ]
    return (min(years), max(years)) if years else None


def caption_range(caption: str) -> tuple[int, int] | None:
    """The first year range in a caption: ``1991–2018`` -> (1991, 2018); ``2011–13`` -> (2011, 2013)."""
    m = CAPTION_RANGE.search(caption)
    if not m:
        return None
    first, last = m.group(1), m.group(2)
    end = int(first[: 4 - len(last)] + last)
    return (int(first), end) if end >= int(first) else None


def _figures(node: object) -> list[tuple[str, str]]:
    """(image source, caption text) of every image in a pandoc JSON AST."""
    out: list[tuple[str, str]] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            if n.get("t") == "Image":
                _attr, inlines, (src, _title) = n["c"]
                out.append((src, _plain(inlines)))
            else:
                stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)
    return out


def _plain(inlines: list[dict[str, object]]) -> str:
    return "".join(str(i.get("c", "")) if i.get("t") == "Str" else " " for i in inlines if isinstance(i, dict))


def check_figure_captions(project: Project, sections: list[Path], problems: Problems) -> None:
    """Warn where a figure's caption states a year range that its data does not span."""
    by_stem: dict[str, Figure] = {f.id: f for f in project.figures if f.data is not None}
    if not by_stem:
        return
    for path in sections:
        text = read_text(path, Problems(project.root))
        # pandoc runs only for a file that can hold a finding: an image of a declared
        # figure and a year range somewhere (this check is on every `check`'s path).
        if not text or "![" not in text or not CAPTION_RANGE.search(text) or not any(s in text for s in by_stem):
            continue
        try:
            ast = parse_markdown(text)
        except (PandocError, RuntimeError):
            continue  # the citation scan reports files pandoc cannot parse
        for src, caption in _figures(ast["blocks"]):
            figure = by_stem.get(Path(src).stem)
            stated = caption_range(caption)
            if figure is None or figure.data is None or stated is None:
                continue
            actual = data_years(project.root / figure.data)
            if actual is None or actual == stated:
                continue
            line = next((n for n, row in enumerate(text.splitlines(), 1) if f"]({src}" in row), 1)
            problems.warning(
                "figure-caption-range",
                f"the caption of {src} says {stated[0]}–{stated[1]}, but its data "
                f"({figure.data.name}) runs {actual[0]}–{actual[1]}",
                path=path,
                line=line,
                hint=f"write {actual[0]}–{actual[1]} in the caption, or check the data",
            )
