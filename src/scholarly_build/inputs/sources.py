"""The text of cited works: declared in the settings, read once, normalised and indexed.

A *source* is the text of one bibliography entry (``.txt``, ``.md`` or ``.pdf``).
Its words are normalised the way extraction and typography differ (case,
whitespace, line-end hyphenation, curly and straight quotes, ligatures, dashes),
footnote markers and lone page numbers are set aside, and every run of N words is
hashed. The index is cached as JSON under ``build/.cache`` by the file's content
hash, so an unchanged source is never read twice. This module reads and indexes;
it does not judge quotations (``checks.quotecheck`` does), never writes outside
the cache, and never fetches a text from anywhere but the declared file.

Settings (``manuscript/paper.yaml``, see docs/settings.md)::

    sources_dir: ../shared/seeds          # or SCHOLARLY_BUILD_SOURCES, or --sources DIR
    sources:
      jorbenadze2018belarus: 000_43a9581147c6d6ec.txt
      geddes1999what: {file: geddes1999.pdf, page_offset: 2}
    overlap_words: 8
    overlap_severity: warning             # or error
"""

from __future__ import annotations

import bisect
import json
import os
import re
import subprocess
import unicodedata
import zlib
from collections.abc import Container
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scholarly_build.core.fsutil import sha256_bytes, write_atomic
from scholarly_build.core.problems import Problems

ENV_SOURCES = "SCHOLARLY_BUILD_SOURCES"
SOURCE_SUFFIXES = (".txt", ".md", ".pdf")
INDEX_VERSION = 6  # raise whenever _index() changes: old cache entries are then ignored
DEFAULT_OVERLAP_WORDS = 8

# A word: letters (with inner apostrophes), joined across hyphens and dashes,
# including a hyphen at a line end ("neo-\ncommunist"). Numbers are separate words.
_LETTERS = r"[^\W\d_]+(?:['’ʼ][^\W\d_]+)*"
# Joined inside a word: hyphens, the soft hyphen and the en dash ("Belarus–Russia").
# An em dash is punctuation ("regime—and" is two words), as is any spaced dash.
_DASH = "-\u00ad‐‑‒–"
WORD = re.compile(rf"{_LETTERS}(?:[{_DASH}](?:[ \t]*\r?[\n\f][\f \t]*)?{_LETTERS})*|\d+")
_MARKER_BEFORE = set(".,;:!?”\"’')]")
_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "‘": "'", "`": "'"})
_STRIP = re.compile(rf"[{_DASH}\s]+")


def norm_word(raw: str) -> str:
    """One word as compared: ligatures unfolded, lower case, straight apostrophe, no hyphens."""
    if raw.isascii():  # the common case, kept fast
        low = raw.lower()
        return _STRIP.sub("", low) if "-" in low else low
    word = unicodedata.normalize("NFKC", raw)
    return _STRIP.sub("", word.translate(_APOSTROPHES).casefold())


def words(text: str) -> list[tuple[str, int, int]]:
    """(normalised word, start, end) for every word of ``text``, offsets in ``text``."""
    return [(norm_word(m.group(0)), m.start(), m.end()) for m in WORD.finditer(text)]


def gram_hash(gram: list[str] | tuple[str, ...]) -> int:
    """A stable 32-bit hash of N normalised words (CRC-32: the same in every run, unlike ``hash``)."""
    return zlib.crc32("\x1f".join(gram).encode())


@dataclass(frozen=True)
class SourceSpec:
    """A declared source: entry key -> file (relative to the sources folder)."""

    key: str
    file: str
    page_offset: int
    line: int  # line of the declaration in the settings


@dataclass(frozen=True)
class SourceSettings:
    """The settings about sources: which entry's text is which file, where they are, how overlap is judged."""

    specs: tuple[SourceSpec, ...] = ()
    sources_dir: str | None = None
    overlap_words: int = DEFAULT_OVERLAP_WORDS
    overlap_severity: str = "warning"
    line: int = 0  # line of `sources:`


def _source_spec(key: str, value: Any, line: int, problems: Problems, path: Path) -> SourceSpec | None:
    """One `sources` entry, `KEY: FILE` or `KEY: {file, page_offset}`: a .txt, .md or .pdf file
    (the suffix rule, on the file as written, is not a schema pattern)."""
    offset: Any = 0
    if isinstance(value, dict):
        file, offset = value.get("file"), value.get("page_offset", 0)
    else:
        file = value
    if not isinstance(file, str) or not file.strip() or Path(file).suffix.lower() not in SOURCE_SUFFIXES:
        problems.error(
            "settings",
            f"source of {key!r} must be a .txt, .md or .pdf file, not {file!r}",
            path=path,
            line=line,
            hint="write `KEY: FILE` or `KEY: {file: FILE, page_offset: N}`",
        )
        return None
    if not isinstance(offset, int) or isinstance(offset, bool):
        problems.error("settings", f"`page_offset` of {key!r} must be a whole number", path=path, line=line)
        offset = 0
    return SourceSpec(str(key), file.strip(), offset, line)


def parse_settings(
    data: dict[str, Any], line_of: Any, problems: Problems, path: Path, invalid: Container[str] = ()
) -> SourceSettings:
    """The `sources`, `sources_dir`, `overlap_words` and `overlap_severity` settings.

    ``invalid`` names the settings that break settings.schema.json (the caller validated them);
    each is reported here in its own words and replaced by its default.
    """

    def invalid_setting(name: str, message: str, hint: str | None = None) -> None:
        problems.error("settings", message, path=path, line=line_of(name), hint=hint)

    specs: list[SourceSpec] = []
    raw = data.get("sources") or {}
    if "sources" in invalid and not isinstance(raw, dict):
        message = "`sources` must map entry keys to files (.txt, .md or .pdf)"
        invalid_setting("sources", message, "e.g. `sources: {smith2001: smith2001.pdf}`")
        raw = {}
    for key, value in raw.items():
        spec = _source_spec(key, value, line_of("sources", key), problems, path)
        if spec is not None:
            specs.append(spec)

    sources_dir = data.get("sources_dir")
    if "sources_dir" in invalid:
        invalid_setting("sources_dir", "`sources_dir` must be a folder path")
        sources_dir = None
    n = data.get("overlap_words", DEFAULT_OVERLAP_WORDS)
    if "overlap_words" in invalid:
        invalid_setting("overlap_words", f"`overlap_words` must be a whole number of at least 4, not {n!r}")
        n = DEFAULT_OVERLAP_WORDS
    severity = data.get("overlap_severity", "warning")
    if "overlap_severity" in invalid:
        invalid_setting("overlap_severity", f"`overlap_severity` must be warning or error, not {severity!r}")
        severity = "warning"
    return SourceSettings(tuple(specs), sources_dir, n, str(severity), line_of("sources") if "sources" in data else 0)


# --- one source's text -------------------------------------------------------

_NUMBERED_HEADING = re.compile(
    r"(?m)^[ \t]*(?:#{1,6}[ \t]+)?(\d{1,2}(?:\.\d{1,2})+\.?|\d{1,2}\.)[ \t]+([A-Z][^\n]{0,90}?)[ \t]*$"
)
_FOOTNOTE_LINE = re.compile(r"(?m)^(\d{1,3}) +\S")


@dataclass
class Source:
    """A source's text and its index."""

    key: str
    path: Path
    text: str
    tokens: list[str]
    starts: list[int]  # offset of each token in text
    pages: list[int]  # offset where each page starts (empty: no page breaks known)
    markers: dict[int, int]  # footnote number -> offset of its marker in the main text
    footnotes: dict[int, tuple[int, int]]  # footnote number -> (start, end) of its text
    page_offset: int = 0
    gram_hashes: list[int] = field(default_factory=list)  # hash of the N words from each token on
    n: int = DEFAULT_OVERLAP_WORDS
    digest: str = ""  # of the file's content (and the index's version)
    _joined: str | None = None
    _char_to_token: list[int] | None = None
    _line_starts: list[int] | None = None
    _headings: list[tuple[int, str, str]] | None = None
    _grams: dict[int, int] | None = None

    @property
    def grams(self) -> dict[int, int]:
        """Hash of N words -> the first token index where they start (built on first use)."""
        if self._grams is None:
            self._grams = {}
            for i, h in enumerate(self.gram_hashes):
                self._grams.setdefault(h, i)
        return self._grams

    @property
    def name(self) -> str:
        """The file's name, as the report shows it."""
        return self.path.name

    # Matching works on the words joined by single spaces, with a space either side.
    @property
    def joined(self) -> str:
        """The normalised tokens joined by single spaces, framed by spaces: the text a quotation is matched in."""
        if self._joined is None:
            self._joined = " " + " ".join(self.tokens) + " "
            pos, starts = 1, []
            for tok in self.tokens:
                starts.append(pos)
                pos += len(tok) + 1
            self._char_to_token = starts
        return self._joined

    def token_at(self, joined_pos: int) -> int:
        """Index of the token that starts at or before ``joined_pos`` in :attr:`joined`."""
        self.joined  # noqa: B018 - builds the map
        return max(0, bisect.bisect_right(self._char_to_token or [], joined_pos) - 1)

    def line_of(self, offset: int) -> int:
        """1-based line of the file's text at character ``offset``."""
        if self._line_starts is None:
            self._line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        return bisect.bisect_right(self._line_starts, offset)

    def page_of(self, offset: int) -> int | None:
        """Printed page number at ``offset`` (page index minus the page offset), None if unknown."""
        if not self.pages:
            return None
        return bisect.bisect_right(self.pages, offset) - self.page_offset

    def footnote_at(self, offset: int) -> int | None:
        """Number of the footnote whose text holds ``offset``, None in the main text."""
        for n, (start, end) in self.footnotes.items():
            if start <= offset < end:
                return n
        return None

    # --- sections ----------------------------------------------------------

    def numbered_headings(self) -> list[tuple[int, str, str]]:
        """(offset, number, title) of headings such as ``5.1.1. Belarus-Russia Relations``."""
        if self._headings is None:
            found = []
            for m in _NUMBERED_HEADING.finditer(self.text):
                title = m.group(2).strip()
                if len(title.split()) > 12 or title[-1] in ",;" or self.footnote_at(m.start()) is not None:
                    continue
                found.append((m.start(), m.group(1).rstrip("."), title))
            self._headings = found
        return self._headings

    def named_heading(self, name: str) -> int | None:
        """Offset of the one line that is a heading starting with ``name``; None if none or several."""
        want = [t for t, _, _ in words(name)]
        if not want:
            return None
        hits = []
        first = name.strip()[:3].lower()
        for m in re.finditer(r"(?m)^[^\n]*$", self.text):
            line = m.group(0)
            if not line.strip() or len(line) > len(name) + 60 or first not in line[:20].lower():
                continue
            got = [t for t, _, _ in words(line)]
            if got[: len(want)] == want and len(got) <= len(want) + 6 and not line.rstrip().endswith((".", ",")):
                hits.append(m.start())
        return hits[0] if len(hits) == 1 else None


# --- reading and indexing -----------------------------------------------------


class SourceError(Exception):
    """A declared source file that exists but cannot be read as text (not UTF-8, pdftotext failed)."""


def extract_text(path: Path) -> str:
    """A source's text; PDFs through poppler's pdftotext, which marks page breaks with form feeds."""
    if path.suffix.lower() == ".pdf":
        try:
            out = subprocess.run(
                ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, timeout=120
            )
        except FileNotFoundError:
            raise SourceError("pdftotext (poppler-utils) is not installed") from None
        except subprocess.CalledProcessError as exc:
            raise SourceError(f"pdftotext failed: {exc.stderr.decode(errors='replace').strip()}") from None
        except subprocess.TimeoutExpired:
            raise SourceError("pdftotext took longer than 120 s") from None
        return out.stdout.decode("utf-8", errors="replace")
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceError("the file is not UTF-8 text") from None


def _running_lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of running headers and footers: lines at the edge of at least 3 pages
    (and 40 % of them) that are the same but for their numbers. Only texts with page breaks."""
    pages = text.split("\f")
    if sum(1 for p in pages if p.strip()) < 3:
        return []
    counts: dict[str, int] = {}
    edges: list[tuple[str, int, int]] = []
    offset = 0
    for page in pages:
        lines = [m for m in re.finditer(r"[^\n]+", page) if m.group(0).strip()]
        keys = set()
        for m in lines[:3] + lines[-3:]:
            key = re.sub(r"\d+", "#", " ".join(m.group(0).split()).lower())
            keys.add(key)
            edges.append((key, offset + m.start(), offset + m.end()))
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
        offset += len(page) + 1
    threshold = max(3, int(0.4 * len(pages)))
    return sorted({(s, e) for key, s, e in edges if counts[key] >= threshold})


def _within(spans: list[tuple[int, int]], pos: int, limit: int) -> bool:
    """True when ``pos`` lies in one of the sorted, disjoint (start, end) ``spans``; ``limit`` exceeds every end."""
    i = bisect.bisect_right(spans, (pos, limit)) - 1
    return i >= 0 and spans[i][0] <= pos < spans[i][1]


def _footnote_texts(text: str) -> dict[int, tuple[int, int]]:
    """Footnote number -> (start, end) of its text: a line "N Text" that continues the numbering."""
    footnotes: dict[int, tuple[int, int]] = {}
    expected = 1
    found: list[tuple[int, int]] = []
    for m in _FOOTNOTE_LINE.finditer(text):
        n = int(m.group(1))
        if expected <= n <= expected + 50:  # texts may be lost, but the numbering only rises
            found.append((n, m.start()))
            expected = n + 1
    for i, (n, start) in enumerate(found):
        nxt = found[i + 1][1] if i + 1 < len(found) else len(text)
        # a footnote ends at the next one, at a blank line or where the main text resumes
        brk = re.search(r"\n(?:[ \t]*\n| \S|\f)", text[start:nxt])
        footnotes[n] = (start, start + brk.start() if brk else nxt)
    return footnotes


def _footnote_markers(
    text: str, all_words: list[tuple[str, int, int]], footnotes: dict[int, tuple[int, int]]
) -> tuple[dict[int, int], set[int]]:
    """Footnote number -> offset of its marker in the main text, and the offsets of the marker words.

    A marker is a number glued to a word or to punctuation ("policy.12"), or standing
    after a sentence's end (". 13 Next"), rising through the main text, each before
    its footnote's text.
    """
    in_footnote = sorted(footnotes.values())
    markers: dict[int, int] = {}
    skip: set[int] = set()
    expected, last = 1, -1
    for word, start, end in all_words:
        if not word.isdigit() or len(word) > 6 or start <= last:
            continue
        before = text[start - 1] if start else "\n"
        before2 = text[start - 2] if start >= 2 else "\n"
        after = text[end] if end < len(text) else "\n"
        if not after.isspace() and after not in ",;:":
            continue  # "3.1. State" is a heading's number, not a marker
        n = int(word)
        if len(word) > 3:  # two markers run together: "NATO.2829"
            pairs = [(int(word[:i]), int(word[i:])) for i in range(1, len(word))]
            pair = next((a for a, b in pairs if b == a + 1 and expected <= a <= expected + 5), None)
            if pair is None or before.isspace() or before.isdigit():
                continue
            markers[pair] = markers[pair + 1] = start
            skip.add(start)
            expected, last = pair + 2, start
            continue
        strong = before.islower() or (before in _MARKER_BEFORE and not before2.isdigit())
        weak = (before in _MARKER_BEFORE and before2.isdigit()) or (before == " " and before2 in _MARKER_BEFORE)
        if not (strong and expected <= n <= expected + 5) and not (weak and expected <= n <= expected + 1):
            continue
        if _within(in_footnote, start, len(text) + 1) or (n in footnotes and footnotes[n][0] < start):
            continue
        markers[n] = start
        skip.add(start)
        expected, last = n + 1, start
    return markers, skip


def _kept_words(text: str, all_words: list[tuple[str, int, int]], skip: set[int]) -> tuple[list[str], list[int]]:
    """Tokens and their offsets, without the words in ``skip``, running headers and footers, and lone page numbers."""
    running = _running_lines(text)
    tokens: list[str] = []
    starts: list[int] = []
    for word, start, end in all_words:
        if start in skip:
            continue
        if _within(running, start, len(text) + 1):
            continue  # a running header or footer
        if word.isdigit():
            line_start = text.rfind("\n", 0, start) + 1
            line_end = text.find("\n", end)
            if text[line_start : line_end if line_end >= 0 else len(text)].strip() == text[start:end]:
                continue  # a page number on its own line
        tokens.append(word)
        starts.append(start)
    return tokens, starts


def _index(text: str) -> dict[str, Any]:
    """Tokens (footnote markers and lone page numbers set aside), pages, markers and footnotes."""
    all_words = words(text)
    footnotes = _footnote_texts(text)
    markers, skip = _footnote_markers(text, all_words, footnotes)
    tokens, starts = _kept_words(text, all_words, skip)
    # Footnote texts interrupt the main text at page ends: the main text's words come
    # first, uninterrupted, then the footnotes' (each word keeps its offset).
    in_footnote = sorted(footnotes.values())
    notes = [_within(in_footnote, st, len(text) + 1) for st in starts]
    order = [i for i, note in enumerate(notes) if not note] + [i for i, note in enumerate(notes) if note]
    tokens, starts = [tokens[i] for i in order], [starts[i] for i in order]
    pages = [0] + [m.end() for m in re.finditer("\f", text)] if "\f" in text else []
    return {
        "tokens": tokens,
        "starts": starts,
        "pages": pages,
        "markers": [[n, pos] for n, pos in markers.items()],
        "footnotes": [[n, s, e] for n, (s, e) in footnotes.items()],
    }


def load_source(spec: SourceSpec, path: Path, cache_dir: Path | None, n: int) -> Source:
    """Read ``path`` and index it, or load its index from the cache (keyed by content hash)."""
    raw = path.read_bytes()
    digest = sha256_bytes(b"%d\0%d\0%s\0" % (INDEX_VERSION, n, path.suffix.lower().encode()) + raw)
    cache = cache_dir / f"source-{digest}.json" if cache_dir else None
    data: dict[str, Any] | None = None
    if cache is not None and cache.is_file():
        try:
            data = json.loads(cache.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("version") != INDEX_VERSION:
                data = None
        except (ValueError, OSError):
            data = None  # a corrupt cache entry is simply recomputed
    if data is None:
        text = extract_text(path)
        data = {"version": INDEX_VERSION, "text": text, **_index(text)}
        toks = data["tokens"]
        data["grams"] = [gram_hash(toks[i : i + n]) for i in range(len(toks) - n + 1)]
        if cache is not None:
            try:
                write_atomic(cache, json.dumps(data, ensure_ascii=False))
            except OSError:
                pass
    return Source(
        key=spec.key,
        path=path,
        text=data["text"],
        tokens=data["tokens"],
        starts=data["starts"],
        pages=data["pages"],
        markers={int(k): int(v) for k, v in data["markers"]},
        footnotes={int(k): (int(s), int(e)) for k, s, e in data["footnotes"]},
        page_offset=spec.page_offset,
        gram_hashes=data["grams"],
        n=n,
        digest=digest,
    )


@dataclass
class LoadedSources:
    """The sources that could be read (by entry key), those that could not, and the folder they came from."""

    by_key: dict[str, Source]
    missing: list[SourceSpec]
    folder: Path | None


def sources_folder(root: Path, settings: SourceSettings, override: str | None = None) -> Path:
    """Where relative source paths point: --sources, then $SCHOLARLY_BUILD_SOURCES, then `sources_dir`."""
    if override:
        return Path(override).expanduser().resolve()
    env = os.environ.get(ENV_SOURCES)
    if env:
        return Path(env).expanduser().resolve()
    if settings.sources_dir:
        return (root / Path(settings.sources_dir).expanduser()).resolve()
    return root


def load_sources(
    root: Path,
    settings: SourceSettings,
    problems: Problems,
    settings_path: Path,
    cache_dir: Path | None,
    override: str | None = None,
) -> LoadedSources:
    """Read (or take from the cache) every declared source; one ``missing-source`` warning for each that fails.

    A missing or unreadable text never stops the check: the checks against that
    work are skipped and the summary says so.
    """
    folder = sources_folder(root, settings, override)
    by_key: dict[str, Source] = {}
    missing: list[SourceSpec] = []
    for spec in settings.specs:
        path = Path(spec.file).expanduser()
        path = path if path.is_absolute() else folder / path
        hint: str | None = None
        if not path.is_file():
            reason = "is not there; its quotations and prose were not checked against it"
            hint = f"put the file there, or point --sources / ${ENV_SOURCES} / `sources_dir` at its folder"
        else:
            try:
                by_key[spec.key] = load_source(spec, path, cache_dir, settings.overlap_words)
                continue
            except (SourceError, OSError) as exc:
                reason = f"could not be read: {exc}; checks against it were skipped"
        missing.append(spec)
        problems.warning(
            "missing-source",
            f"the text of {spec.key!r} ({path}) {reason}",
            path=settings_path,
            line=spec.line,
            key=spec.key,
            hint=hint,
        )
    return LoadedSources(by_key, missing, folder)
