"""Quotations and prose checked against the sources' own text.

Codes (docs/check.md):

* ``quote-mismatch`` (error): a quotation that is not in the text of the work it
  is attributed to (a note's ``quotations:`` entry, or a quoted span in the
  manuscript followed by a citation of a work whose text is known).
* ``quote-locator-mismatch`` (warning): the quotation is there, but not on the
  page, in the section or at the footnote that its locator names.
* ``uncredited-overlap`` (warning by default): N or more consecutive words shared
  with a source, outside quotation marks.

Locators are only judged where the source's text shows them: pages where the
text has page breaks (PDFs), numbered or named section headings that are found
exactly once, footnote markers and footnote texts whose numbering rises. Anything
else is left unjudged; a false finding is worse than a missed one.

This module only compares: the sources' text comes from ``inputs.sources`` (read
and indexed once), and the only file it writes is its own cache of overlap
findings under ``build/.cache``. It must never fetch a text, nor change a note
or a section.
"""

from __future__ import annotations

import difflib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scholarly_build.checks.citations import blank, mask_code
from scholarly_build.core.fsutil import sha256_bytes, write_atomic
from scholarly_build.core.problems import Problems, Severity
from scholarly_build.inputs.notes import Note
from scholarly_build.inputs.project import Project
from scholarly_build.inputs.sources import WORD, LoadedSources, Source, SourceSettings, gram_hash, load_sources, words

_VERSION = 1  # of the overlap findings' cache: raise when overlap_runs() changes

# --- locators ----------------------------------------------------------------

_LABELS = r"(?:pp|p|pages|page|nn|n|notes|note|secs|sec|sections|section|§|ch|chap|chapter|para|fig|tbl)"
_SPLIT = re.compile(rf",\s*(?={_LABELS}\.?\s)", re.IGNORECASE)
_PART = re.compile(rf"^\s*({_LABELS})\.?\s*(\S.*?)\s*$", re.IGNORECASE)
_RANGE = re.compile(r"^(\d+)(?:\s*[-–—]+\s*(\d+))?$")
_SECTION_NUMBER = re.compile(r"^\d+(?:\.\d+)*\.?$")


def locator_parts(locator: str | None) -> list[tuple[str, str]]:
    """``"sec. 5.1.1, n. 40"`` -> ``[("sec", "5.1.1"), ("n", "40")]``; labels lower-cased and singular."""
    if not locator:
        return []
    parts = []
    for piece in _SPLIT.split(locator.strip()):
        m = _PART.match(piece)
        if m is None:
            continue
        label = m.group(1).lower()
        kind = {"p": "p", "pp": "p", "page": "p", "pages": "p", "n": "n", "nn": "n", "note": "n", "notes": "n"}.get(
            label, "sec" if label in ("sec", "secs", "section", "sections", "§") else label
        )
        parts.append((kind, m.group(2).strip().rstrip(".;")))
    return parts


def _number_range(value: str) -> tuple[int, int] | None:
    m = _RANGE.match(value.strip())
    if m is None:
        return None
    lo = int(m.group(1))
    return lo, int(m.group(2) or lo)


# --- finding a quotation --------------------------------------------------------

_ELLIPSIS = re.compile(r"\[\s*(?:…|\.\s?\.\s?\.)\s*\]|…|\.\s?\.\s?\.")
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_GAP, _EDIT = "\x00gap\x00", "\x00edit\x00"


def quote_pattern(quote: str) -> tuple[re.Pattern[str] | None, list[str]]:
    """A pattern over :attr:`Source.joined` for ``quote``, and the quotation's own words.

    An ellipsis is a gap of up to 150 words; a square-bracketed insertion is
    editorial: inside a word (``[t]he``) its letters count, elsewhere it stands for
    up to five words of the source.
    """
    text = _ELLIPSIS.sub(_GAP, quote)

    def bracket(m: re.Match[str]) -> str:
        s, e = m.start(), m.end()
        inside_word = (s > 0 and text[s - 1].isalnum()) or (e < len(text) and text[e].isalnum())
        return m.group(1) if inside_word else _EDIT

    text = _BRACKET.sub(bracket, text)
    pieces: list[str] = []
    own: list[str] = []
    for chunk in re.split(f"({_GAP}|{_EDIT})", text):
        if chunk == _GAP:
            pieces.append(r"(?:\S+ ){0,150}?")
        elif chunk == _EDIT:
            pieces.append(r"(?:\S+ ){0,5}?")
        else:
            toks = [t for t, _, _ in words(chunk)]
            own.extend(toks)
            pieces.extend(re.escape(t) + " " for t in toks)
    while pieces and pieces[0].startswith("(?:"):
        pieces.pop(0)
    while pieces and pieces[-1].startswith("(?:"):
        pieces.pop()
    if not own:
        return None, own
    return re.compile(" " + "".join(pieces)), own  # a literal start: re scans for it quickly


def occurrences(source: Source, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """(first, last) token index of each place ``pattern`` matches."""
    return [(source.token_at(m.start() + 1), source.token_at(m.end() - 2)) for m in pattern.finditer(source.joined)]


@dataclass
class Closest:
    """The passage most like a quotation that was not found: token span, similarity, and word differences."""

    first: int
    last: int
    ratio: float
    diffs: list[str]


def closest(source: Source, own: list[str]) -> Closest | None:
    """The passage of ``source`` most like the quotation's words (bigram votes, then difflib)."""
    if not own:
        return None
    toks = source.tokens
    votes: dict[int, int] = {}
    grams = list(itertools.pairwise(own)) or [(own[0], "")]
    wanted = {g: i for i, g in enumerate(grams)}
    for j in range(len(toks)):
        g = (toks[j], toks[j + 1] if j + 1 < len(toks) else "") if len(own) > 1 else (toks[j], "")
        i = wanted.get(g)
        if i is not None:
            votes[j - i] = votes.get(j - i, 0) + 1
    if not votes:
        return None
    start = max(votes, key=lambda s: (votes[s], -s))
    lo, hi = max(0, start - 5), min(len(toks), start + len(own) + 5)
    window = toks[lo:hi]
    matcher = difflib.SequenceMatcher(None, own, window, autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size]
    if not blocks:
        return None
    first, last = lo + blocks[0].b, lo + blocks[-1].b + blocks[-1].size - 1
    # words of the quotation before the first and after the last match stand against the source's
    first = max(0, first - blocks[0].a)
    last = min(len(toks) - 1, last + len(own) - (blocks[-1].a + blocks[-1].size))
    matcher = difflib.SequenceMatcher(None, own, toks[first : last + 1], autojunk=False)
    diffs = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        q, s = " ".join(own[i1:i2]), " ".join(toks[first + j1 : first + j2])
        if op == "replace":
            diffs.append(f"“{q}” where the source has “{s}”")
        elif op == "delete":
            diffs.append(f"“{q}” is not in the source")
        elif op == "insert":
            diffs.append(f"the source has “{s}”, which the quotation drops")
    return Closest(first, last, matcher.ratio(), diffs)


def excerpt(source: Source, first: int, last: int, limit: int = 160) -> str:
    """The source's own words from token ``first`` to ``last``, on one line, cut to ``limit`` characters."""
    start = source.starts[first]
    m = WORD.match(source.text, source.starts[last])
    end = m.end() if m else source.starts[last]
    text = " ".join(source.text[start:end].split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def current_section(source: Source, offset: int, named: dict[str, int]) -> tuple[int, str] | None:
    """(offset, number or name) of the last known heading at or before ``offset``."""
    best: tuple[int, str] | None = None
    for pos, number, _ in source.numbered_headings():
        if pos <= offset and (best is None or pos > best[0]):
            best = (pos, number)
    for name, pos in named.items():
        if pos <= offset and (best is None or pos > best[0]):
            best = (pos, name)
    return best


def where(source: Source, first: int, named: dict[str, int]) -> str:
    """Where a passage stands: line, page, section and footnote, as far as the text shows them."""
    offset = source.starts[first]
    bits = [f"{source.name} line {source.line_of(offset)}"]
    page = source.page_of(offset)
    if page is not None:
        bits.append(f"p. {page}")
    section = current_section(source, offset, named)
    if section is not None:
        bits.append(f"sec. {section[1]}")
    note = source.footnote_at(offset)
    if note is not None:
        bits.append(f"in n. {note}")
    else:
        after = [n for n, pos in source.markers.items() if pos >= offset]
        if after:
            nxt = min(after, key=lambda n: source.markers[n])
            if source.markers[nxt] - offset < 1500:
                bits.append(f"before n. {nxt}")
    return ", ".join(bits)


# --- locators against a passage ------------------------------------------------------


def _part_verdict(
    source: Source, kind: str, value: str, spans: list[tuple[int, int]], named: dict[str, int]
) -> bool | None:
    """True: some occurrence agrees; False: the text shows that none does; None: cannot tell."""
    if kind == "p":
        rng = _number_range(value)
        if not source.pages or rng is None:
            return None
        for first, last in spans:
            pages = {source.page_of(source.starts[first]), source.page_of(source.starts[last])}
            if any(p is not None and rng[0] <= p <= rng[1] for p in pages):
                return True
        return False
    if kind == "n":
        rng = _number_range(value)
        if rng is None or rng[1] - rng[0] > 100:
            return None
        known = False
        for number in range(rng[0], rng[1] + 1):
            note = source.footnotes.get(number)
            marker = source.markers.get(number)
            known = known or note is not None or marker is not None
            for first, last in spans:
                start, end = source.starts[first], source.starts[last]
                if note is not None and note[0] <= start < note[1]:
                    return True
                if marker is not None:
                    before = [p for p in source.markers.values() if p < marker]
                    previous = max(before) if before else -1
                    if previous - 5 <= start and end <= marker + 5:
                        return True  # between the previous marker and this one
                    if 0 <= start - marker <= 300:
                        return True  # just after the marker
        return False if known else None
    if kind == "sec":
        if _SECTION_NUMBER.match(value):
            wanted = value.rstrip(".")
            if not any(n == wanted for _, n, _ in source.numbered_headings()):
                return None
            for first, _ in spans:
                current = current_section(source, source.starts[first], {})
                if current is not None and (current[1] == wanted or current[1].startswith(wanted + ".")):
                    return True
            return False
        if value not in named:
            return None
        for first, _ in spans:
            current = current_section(source, source.starts[first], named)
            if current is not None and current[0] == named[value]:
                return True
        return False
    return None


def locator_verdict(
    source: Source, locator: str | None, spans: list[tuple[int, int]], named: dict[str, int]
) -> bool | None:
    """Does the locator agree with where the quotation stands (``spans``)?

    True when any of its parts (page, section, note) agrees with some occurrence,
    False when the text shows that none does, None when the text cannot tell.
    """
    verdicts = [_part_verdict(source, kind, value, spans, named) for kind, value in locator_parts(locator)]
    if any(v is True for v in verdicts):
        return True
    if any(v is False for v in verdicts):
        return False
    return None


# --- what is checked ------------------------------------------------------------------


@dataclass
class QuoteTask:
    """One quotation to look for: its words, where it was written, and the works it is attributed to."""

    text: str
    path: Path
    line: int
    column: int
    candidates: list[tuple[str, str | None]]  # (source key, locator) whose text should hold it
    unknown: list[str] = field(default_factory=list)  # also cited, text not known
    key: str | None = None

    def at(self, key: str) -> dict[str, object]:
        """Where a finding about this quotation is reported; ``key`` names the work when the task has none."""
        return {"path": self.path, "line": self.line, "column": self.column, "key": self.key or key}


def note_tasks(notes: dict[str, Note], loaded: LoadedSources) -> list[QuoteTask]:
    """The notes' ``quotations:`` whose work's text is known (the note's own work, else its ``via`` work)."""
    tasks = []
    for note in notes.values():
        for q in note.quotations:
            if note.key in loaded.by_key:
                candidates = [(note.key, q.locator)]
            elif q.via and q.via in loaded.by_key:
                candidates = [(q.via, q.via_locator)]
            else:
                continue
            tasks.append(QuoteTask(q.text, note.path, q.line, 0, candidates, key=note.key))
    return tasks


_QUOTED = re.compile(r"“([^“”]+)”|(?<![\w\"])\"([^\"\n]+(?:\n[^\"\n]+)*?)\"(?![\w\"])")
_GROUP = re.compile(
    r"\[([^\[\]]*?@[^\[\]]*)\]|(?<![\w@\[])(-?@\{?([\w][\w:.#$%&\-+?<>~/]*?)\}?)(?=[^\w:.#$%&\-+?<>~/]|$)(\s*\[([^\[\]@]*)\])?"
)
_CITE_ITEM = re.compile(r"-?@\{?([\w][\w:.#$%&\-+?<>~/]*?)\}?(?=[^\w:.#$%&\-+?<>~/]|[.:]?$)(.*)$", re.S)


def _mask(text: str) -> str:
    """Code and comments blanked, offsets and line breaks kept."""
    return re.sub(r"(?s)<!--.*?-->", blank, mask_code(text))


def _group_items(m: re.Match[str]) -> list[tuple[str, str | None]]:
    """(key, locator) of each citation in a bracketed group or a narrative citation."""
    if m.group(1) is not None:
        items = []
        for piece in m.group(1).split(";"):
            c = _CITE_ITEM.search(piece)
            if c is not None:
                items.append((c.group(1), c.group(2).strip().lstrip(",").strip() or None))
        return items
    return [(m.group(3), (m.group(5) or "").strip() or None)]


_SENTENCE_END = re.compile(r"[.!?…][\"”’)\]]*\s+[\"“(]*[A-Z]")


def _attached(body: str, q: re.Match[str]) -> re.Match[str] | None:
    """The citation a quotation belongs to: the first after it in its sentence (within 300
    characters), else a narrative citation (``@key [p. 3] calls it “…”``) before it in its sentence."""
    g = _GROUP.search(body, q.end())
    if g is not None and g.start() - q.end() <= 300 and not _SENTENCE_END.search(body, q.end(), g.start()):
        return g
    ends = [m.end() for m in _SENTENCE_END.finditer(body, 0, q.start())]
    start = ends[-1] - 1 if ends else 0
    before = [m for m in _GROUP.finditer(body, start, q.start()) if m.group(1) is None]
    return before[-1] if before else None


def manuscript_tasks(path: Path, text: str, loaded: LoadedSources) -> list[QuoteTask]:
    """Quoted spans followed, in the same paragraph, by a citation of a work whose text is known."""
    masked = _mask(text)
    tasks = []
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    for para in re.finditer(r"(?s).+?(?:\n[ \t]*\n|\Z)", masked):
        body = para.group(0)
        if body.lstrip().startswith(">"):
            continue  # block quotes are not compared: where their attribution stands varies too much
        for q in _QUOTED.finditer(body):
            quote = q.group(1) or q.group(2) or ""
            g = _attached(body, q)
            if g is None:
                continue
            items = _group_items(g)
            known = [(k, loc) for k, loc in items if k in loaded.by_key]
            if not known:
                continue
            offset = para.start() + q.start()
            line = sum(1 for s in line_starts if s <= offset)
            tasks.append(
                QuoteTask(
                    " ".join(quote.split()),
                    path,
                    line,
                    offset - line_starts[line - 1] + 1,
                    known,
                    [k for k, _ in items if k not in loaded.by_key],
                )
            )
    return tasks


# --- running the checks ------------------------------------------------------------------


@dataclass
class SourceReport:
    """What was checked against which source, for the summary line."""

    verified: dict[str, int] = field(default_factory=dict)  # source key -> quotations found in it
    located: int = 0  # of those, how many locators the text confirmed
    quotations: int = 0  # quotations attributed to a work with known text
    missing: list[str] = field(default_factory=list)  # declared sources whose text is absent
    files: dict[str, str] = field(default_factory=dict)  # source key -> file name
    prose_files: int = 0

    def line(self) -> str:
        """The summary line the check prints after its counts (what was verified, what could not be)."""
        if not self.files and not self.missing:
            return "no source texts declared; quotations were not compared with their sources"
        if not self.files:
            return "quotations and prose not compared with their sources: the text is missing for " + ", ".join(
                self.missing
            )
        found = sum(self.verified.values())
        parts = [
            f"{found} of {self.quotations} quotation(s) verified against "
            + (", ".join(f"{k} ({self.files[k]}): {n}" for k, n in self.verified.items()) or "no source")
            + f"; {self.located} locator(s) confirmed by the text"
        ]
        if self.files:
            parts.append(f"prose of {self.prose_files} file(s) compared with {len(self.files)} source(s)")
        if self.missing:
            parts.append("not checked, text missing: " + ", ".join(self.missing))
        return "; ".join(parts)


def check_quotations(
    tasks: list[QuoteTask], loaded: LoadedSources, problems: Problems, report: SourceReport
) -> dict[str, dict[str, int]]:
    """Check each quotation; return the named headings found (source key -> name -> offset)."""
    named: dict[str, dict[str, int]] = {key: {} for key in loaded.by_key}
    for task in tasks:  # named headings that some locator refers to, found exactly once
        for key, loc in task.candidates:
            for kind, value in locator_parts(loc):
                if kind == "sec" and not _SECTION_NUMBER.match(value) and value not in named[key]:
                    pos = loaded.by_key[key].named_heading(value)
                    if pos is not None:
                        named[key][value] = pos
    for task in tasks:
        report.quotations += 1
        pattern, own = quote_pattern(task.text)
        if pattern is None:
            continue
        found = False
        for key, loc in task.candidates:
            source = loaded.by_key[key]
            spans = occurrences(source, pattern)
            if not spans:
                continue
            found = True
            report.verified[key] = report.verified.get(key, 0) + 1
            verdict = locator_verdict(source, loc, spans, named[key])
            if verdict is True:
                report.located += 1
            elif verdict is False:
                problems.warning(
                    "quote-locator-mismatch",
                    f"the quotation is in the text of {key}, but not at {loc}: it stands at "
                    + "; ".join(where(source, first, named[key]) for first, _ in spans[:3]),
                    hint=f"correct the locator; “{excerpt(source, spans[0][0], spans[0][1])}”",
                    **task.at(key),
                )
            break
        if found:
            continue
        _mismatch(task, pattern, own, loaded, named, problems)
    return named


def _mismatch(
    task: QuoteTask,
    pattern: re.Pattern[str],
    own: list[str],
    loaded: LoadedSources,
    named: dict[str, dict[str, int]],
    problems: Problems,
) -> None:
    """Report a quotation found in none of its candidate sources, with the most useful hint.

    In order: the words stand in another known source (an error naming it); the
    quotation may come from a cited work whose text is unknown and nothing close is
    in the known ones (only a warning); else an error with the closest passage.
    """
    keys = [k for k, _ in task.candidates]
    names = " or ".join(keys)
    short = task.text if len(task.text) <= 80 else task.text[:79] + "…"
    if _found_elsewhere(task, pattern, keys, short, loaded, named, problems):
        return
    best: tuple[Closest, str] | None = None
    for key in keys:
        c = closest(loaded.by_key[key], own)
        if c is not None and (best is None or c.ratio > best[0].ratio):
            best = (c, key)
    close = best is not None and best[0].ratio >= 0.6
    if task.unknown and not close:
        problems.warning(
            "quote-mismatch",
            f"“{short}” is not in the text of {names}; it may come from {', '.join(task.unknown)}, "
            "whose text is not known",
            hint="check the quotation against that work",
            **task.at(keys[0]),
        )
        return
    if best is not None and close:
        c, key = best
        source = loaded.by_key[key]
        hint = f"closest passage ({where(source, c.first, named[key])}): “{excerpt(source, c.first, c.last)}”" + (
            f"; {'; '.join(c.diffs[:4])}" if c.diffs else ""
        )
    else:
        hint = f"no passage of {names} is close to it; check the wording and the work it comes from"
    problems.error("quote-mismatch", f"“{short}” is not in the text of {names}", hint=hint, **task.at(keys[0]))


def _found_elsewhere(
    task: QuoteTask,
    pattern: re.Pattern[str],
    keys: list[str],
    short: str,
    loaded: LoadedSources,
    named: dict[str, dict[str, int]],
    problems: Problems,
) -> bool:
    """The quotation stands in the text of a source it is not attributed to: report that one, True."""
    for other, source in loaded.by_key.items():
        if other in keys:
            continue
        spans = occurrences(source, pattern)
        if spans:
            problems.error(
                "quote-mismatch",
                f"“{short}” is not in the text of {' or '.join(keys)}; it is in the text of {other}",
                hint=f"attribute it to {other} ({where(source, spans[0][0], named.get(other, {}))})",
                **task.at(keys[0]),
            )
            return True
    return False


# --- copied prose ----------------------------------------------------------------------

_STOP = frozenset(
    "a an and as at by for from in into of on or the to with its it is was were be that this which who".split()
)
_QUOTE_SPANS = re.compile(r"(?m)“[^“”]*”|(?<![\w\"])\"[^\"]*?\"(?![\w\"])|(?<!\w)‘[^‘’]*’(?!\w)|^[ \t]*>.*$")
_NOT_PROSE = re.compile(r"\[[^\[\]]*@[^\[\]]*\]|\]\([^)]*\)|<[^>\n]*>|https?://\S+|(?<![\w@])@[\w:.#$%&\-+?<>~/]+")


def mask_quoted(text: str) -> str:
    """Quotations, block quotes, citations, link targets and URLs blanked, offsets kept."""
    return _QUOTE_SPANS.sub(blank, _NOT_PROSE.sub(blank, _mask(text)))


def _mostly_names(raw: list[str]) -> bool:
    """True when most content words of a run are capitalised: proper names and titles."""
    content = [w for w in raw if w.lower() not in _STOP]
    capitals = sum(1 for w in content if w[:1].isupper() or w[:1].isdigit())
    return bool(content) and capitals * 2 >= len(content)


def overlap_runs(
    text: str, loaded: LoadedSources, n: int, named: dict[str, dict[str, int]] | None = None
) -> list[tuple[int, int, str]]:
    """(line within ``text`` from 0, column from 1, message) of each run of ``n`` or more shared words."""
    masked = mask_quoted(text)
    toks = words(masked)
    if len(toks) < n:
        return []
    norm = [t for t, _, _ in toks]
    hashes = [gram_hash(norm[i : i + n]) for i in range(len(norm) - n + 1)]
    runs = []
    for src_key, source in loaded.by_key.items():
        headings = (named or {}).get(src_key, {})
        i = 0
        while i < len(hashes):
            j = source.grams.get(hashes[i])
            if j is None or source.tokens[j : j + n] != norm[i : i + n]:
                i += 1
                continue
            length = n  # extend the run as far as both go on together
            while (
                i + length < len(norm)
                and j + length < len(source.tokens)
                and norm[i + length] == source.tokens[j + length]
            ):
                length += 1
            raw = [text[s:e] for _, s, e in toks[i : i + length]]
            if not _mostly_names(raw):
                start = toks[i][1]
                snippet = " ".join(text[start : toks[i + length - 1][2]].split())
                if len(snippet) > 120:
                    snippet = snippet[:119] + "…"
                runs.append(
                    (
                        text.count("\n", 0, start),
                        start - (text.rfind("\n", 0, start) + 1) + 1,
                        f"{length} words shared with the text of {src_key} ({where(source, j, headings)}), "
                        f"outside quotation marks: “{snippet}”",
                    )
                )
            i += length
    return runs


class _RunCache:
    """Overlap findings by the text's hash, for one set of sources and one N: JSON in build/.cache."""

    def __init__(self, cache_dir: Path | None, loaded: LoadedSources, n: int, named: dict[str, dict[str, int]]) -> None:
        digest = sha256_bytes(
            (
                "\0".join(f"{k}={s.digest}" for k, s in sorted(loaded.by_key.items()))
                + f"\0{n}\0{_VERSION}\0{sorted((k, sorted(v.items())) for k, v in named.items())}"
            ).encode()
        )
        self.path = cache_dir / f"overlap-{digest}.json" if cache_dir else None
        self.old: dict[str, list[list[Any]]] = {}
        if self.path is not None and self.path.is_file():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self.old = data if isinstance(data, dict) else {}
            except (ValueError, OSError):
                self.old = {}
        self.new: dict[str, list[list[Any]]] = {}
        self.loaded, self.n, self.named = loaded, n, named

    def runs(self, text: str) -> list[tuple[int, int, str]]:
        """(line, column, message) of each overlap in ``text``, from the cache when the text is unchanged."""
        h = sha256_bytes(text.encode())
        rows = self.new.get(h)
        if rows is None:
            rows = self.old.get(h)
            if rows is None:
                rows = [list(r) for r in overlap_runs(text, self.loaded, self.n, self.named)]
            self.new[h] = rows
        return [(int(a), int(b), str(c)) for a, b, c in rows]

    def save(self) -> None:
        """Write the findings of this run (only those still used) when they differ from the cache's."""
        if self.path is not None and self.new != self.old:
            try:
                write_atomic(self.path, json.dumps(self.new, ensure_ascii=False))
            except OSError:
                pass


def check_prose(
    manuscripts: list[tuple[Path, str]],
    notes: dict[str, Note],
    loaded: LoadedSources,
    settings: SourceSettings,
    problems: Problems,
    cache_dir: Path | None = None,
    named: dict[str, dict[str, int]] | None = None,
) -> int:
    """Overlap in the manuscript's sections and in each note's prose; returns the number of files."""
    cache = _RunCache(cache_dir, loaded, settings.overlap_words, named or {})
    severity = Severity(settings.overlap_severity)

    def report(text: str, first_line: int, path: Path, key: str | None, columns: bool) -> None:
        for line, column, message in cache.runs(text):
            problems.add(
                "uncredited-overlap",
                message,
                path=path,
                line=first_line + line,
                column=column if columns else 0,
                severity=severity,
                key=key,
                hint="put the words in quotation marks with a locator, or say it in your own words",
            )

    for path, text in manuscripts:
        report(text, 1, path, None, True)
    for note in notes.values():
        for value, line in (
            [(note.summary, note.lines.get("summary", 1))]
            + [(c.claim, c.line) for c in note.claims]
            + [(u.how, u.line) for u in note.uses]
        ):
            report(value, line, note.path, note.key, False)
        try:
            raw = note.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        body = "".join(raw.splitlines(keepends=True)[note.body_line - 1 :])
        report(body, note.body_line, note.path, note.key, True)
    cache.save()
    return len(manuscripts) + len(notes)


def run_source_checks(
    project: Project,
    notes: dict[str, Note] | None,
    manuscripts: list[Path],
    problems: Problems,
    sources_dir: str | None = None,
    entry_keys: set[str] | None = None,
) -> SourceReport:
    """Everything this module checks, for one project; the report feeds the summary line."""
    settings = project.sources
    report = SourceReport()
    if not settings.specs:
        return report
    for spec in settings.specs:
        if entry_keys is not None and spec.key not in entry_keys:
            problems.warning(
                "missing-source",
                f"`sources` names {spec.key!r}, which is not an entry of the bibliography; "
                "nothing is checked against it",
                path=project.settings_path,
                line=spec.line,
                key=spec.key,
                hint="use the entry's key as it is in the .bib file",
            )
    loaded = load_sources(
        project.root, settings, problems, project.settings_path, project.build_dir / ".cache", sources_dir
    )
    report.missing = [spec.key for spec in loaded.missing]
    report.files = {key: source.name for key, source in loaded.by_key.items()}
    if not loaded.by_key:
        return report
    texts = []
    for path in manuscripts:
        try:
            texts.append((path, path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError):
            continue  # reported by the citation scan
    tasks = note_tasks(notes or {}, loaded)
    for path, text in texts:
        tasks.extend(manuscript_tasks(path, text, loaded))
    named = check_quotations(tasks, loaded, problems, report)
    report.prose_files = check_prose(
        texts, notes or {}, loaded, settings, problems, project.build_dir / ".cache", named
    )
    return report
