"""The paper's prose and the notes reuse no sentence of the two source works.

Fails on any run of 8 or more consecutive words shared with a text in
../shared/seeds/ outside quotation marks, block quotes and the notes' quotation
fields. Users' clones have no seeds folder, so the test then skips.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"
RUN = 8


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower().replace("’", "'"))


def _strip_quoted(text: str) -> str:
    """Remove what may legitimately repeat a source: quotations and quotation fields."""
    text = re.sub(r"(?m)^\s*(- )?text:.*$", " ", text)  # note quotation fields
    text = re.sub(r"“[^”]*”", " ", text)
    text = re.sub(r'"[^"\n]*"', " ", text)
    text = re.sub(r"(?m)^>.*$", " ", text)  # block quotes
    return text


def _seed_grams() -> set[tuple[str, ...]]:
    grams: set[tuple[str, ...]] = set()
    for path in SEEDS.glob("*.txt"):
        words = _words(path.read_text(encoding="utf-8"))
        grams.update(tuple(words[i : i + RUN]) for i in range(len(words) - RUN + 1))
    return grams


def _overlaps(text: str, grams: set[tuple[str, ...]]) -> list[str]:
    words = _words(_strip_quoted(text))
    return [" ".join(words[i : i + RUN]) for i in range(len(words) - RUN + 1) if tuple(words[i : i + RUN]) in grams]


def _prose_files() -> list[Path]:
    return sorted((ROOT / "manuscript" / "sections").glob("*.md")) + sorted((ROOT / "bib" / "notes").glob("*.md"))


@pytest.fixture(scope="module")
def seed_grams() -> set[tuple[str, ...]]:
    if not SEEDS.is_dir():
        pytest.skip(f"{SEEDS} is absent (only the authors' checkout has the source texts)")
    grams = _seed_grams()
    assert grams, "the seeds folder holds no text"
    return grams


def test_detector_finds_a_copied_sentence(seed_grams: set[tuple[str, ...]]) -> None:
    """A sentence copied from a seed is caught, and the same words in quotation marks are not."""
    source = next(SEEDS.glob("000_*.txt")).read_text(encoding="utf-8")
    copied = " ".join(_words(source)[200:215])
    assert _overlaps(copied, seed_grams)
    assert not _overlaps(f"As the paper puts it, “{copied}”.", seed_grams)


@pytest.mark.parametrize("path", _prose_files(), ids=lambda p: p.name)
def test_no_run_of_eight_words_from_a_source(path: Path, seed_grams: set[tuple[str, ...]]) -> None:
    """No 8-word run of a source appears in this file outside quotations."""
    hits = _overlaps(path.read_text(encoding="utf-8"), seed_grams)
    assert not hits, f"{path.relative_to(ROOT)} shares with a source: {hits[:5]}"
