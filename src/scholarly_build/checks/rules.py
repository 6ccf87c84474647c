"""Citation-integrity checks over the bibliography, the notes and the manuscript.

Each check appends problems with a stable code (see docs/check.md) to a
:class:`Problems` collection; none stops at the first finding, so one run shows
everything to fix. The checks work on data already loaded and parsed (entries,
notes, the citations pandoc found): they must not read files, run tools or decide
which findings a user sees (that is ``checks.policy``).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlparse

from scholarly_build.checks.citations import Citation
from scholarly_build.core.problems import Problems
from scholarly_build.core.safety import is_safe_key
from scholarly_build.inputs import datamodel
from scholarly_build.inputs.bibliography import BibEntry, Bibliography
from scholarly_build.inputs.notes import Note


@dataclass
class CheckInput:
    """Everything the rules look at, loaded once by the check run and passed to :func:`run_all`."""

    bib: Bibliography
    citations: list[Citation]
    notes: dict[str, Note] | None  # None: no notes directory in this project
    listed: set[str] = field(default_factory=set)  # keys listed in the annotated bibliography
    annotation_min_words: int = 80
    annotation_max_words: int = 200
    work_keys: tuple[str, ...] = ()


# --- the .bib on its own ---------------------------------------------------

_YEAR = re.compile(r"^(\d{4}|n\.d\.)$")  # "n.d.": the date is unknown, stated explicitly
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?(/(\d{4}(-\d{2}(-\d{2})?)?)?)?$")
# A page, a range or a list of them. `55-65` and `55–65` are ranges too: biber and
# citeproc both print them as ranges (biblatex's own example file writes them so).
_RANGE = r"[\w.:]+(\s*(?:--?|–)\s*[\w.:]+)?"
_PAGES_OK = re.compile(rf"^{_RANGE}(,\s*{_RANGE})*\+?$")
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")


def _has(entry: BibEntry, name: str, bib: Bibliography, depth: int = 0) -> bool:
    """True when the entry has the field, itself or through its ``crossref`` chain.

    biblatex inherits every field from the parent, and maps the parent's ``title``
    to the child's ``booktitle`` (book -> inbook, proceedings -> inproceedings,
    collection -> incollection); a chain (inbook -> book -> mvbook) is followed.
    """
    if name in entry.fields or name in entry.persons:
        return True
    parent_key = entry.fields.get("crossref")
    if not parent_key or depth > 8:
        return False
    parent = bib.get(parent_key.strip())
    if parent is None or parent is entry:
        return False
    if name == "booktitle" and _has(parent, "title", bib, depth + 1):
        return True
    return _has(parent, name, bib, depth + 1)


def _plain_year(raw: str) -> str:
    """The year as printed: `{\\noopsort{1973b}}1973` (a BibTeX sorting trick, from xampl.bib) is 1973."""
    text = re.sub(r"\\noopsort\s*\{[^{}]*\}", "", raw)
    return text.replace("{", "").replace("}", "").strip()


# Fields by which an entry inherits from other entries (biblatex/biber and citeproc follow them).
_PARENT_FIELDS = ("crossref", "xdata", "xref")


def _parents(entry: BibEntry) -> list[tuple[str, str]]:
    """(field, parent key lowercased) for every inheritance link of ``entry``."""
    links = []
    for name in _PARENT_FIELDS:
        for key in entry.fields.get(name, "").split(","):
            if key.strip():
                links.append((name, key.strip().lower()))
    return links


def check_reference_cycles(bib: Bibliography, problems: Problems) -> None:
    """A crossref/xdata/xref chain that leads back to itself makes pandoc and biber loop without end."""
    by_key = {e.key.lower(): e for e in bib.entries.values()}
    reported: set[str] = set()
    for start in sorted(by_key):
        # Depth-first search from each entry, reporting a cycle through ``start`` once.
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        seen: set[str] = set()
        while stack:
            key, trail = stack.pop()
            entry = by_key.get(key)
            if entry is None:
                continue
            for _name, parent in _parents(entry):
                if parent == start:
                    cycle = [*trail, parent]
                    ident = min(cycle[:-1])
                    if start in reported or (ident != start and ident in reported):
                        continue
                    reported.add(start)
                    first = by_key[start]
                    field_name = next(n for n, p in _parents(first) if p == cycle[1])
                    chain = " → ".join(by_key[k].key for k in cycle)
                    what = "names itself" if len(cycle) == 2 else f"is part of a cycle: {chain}"
                    problems.error(
                        "reference-cycle",
                        f"entry {first.key!r}: `{field_name}` {what}",
                        path=first.path,
                        line=first.line_of(field_name),
                        key=first.key,
                        hint="an entry may inherit from another (crossref, xdata, xref), never from itself; "
                        "break the cycle",
                    )
                elif parent not in seen:
                    seen.add(parent)
                    stack.append((parent, [*trail, parent]))


def isbn_valid(raw: str) -> bool:
    """True for an ISBN-10 or ISBN-13 (hyphens and spaces allowed) whose check digit is right."""
    digits = re.sub(r"[\s-]", "", raw).upper()
    if len(digits) == 10 and re.fullmatch(r"\d{9}[\dX]", digits):
        total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(digits))
        return total % 11 == 0
    if len(digits) == 13 and digits.isdigit():
        total = sum((1 if i % 2 == 0 else 3) * int(c) for i, c in enumerate(digits))
        return total % 10 == 0
    return False


def _normalise_title(title: str) -> str:
    text = title
    if not text.isascii():  # only non-ASCII titles need their accents folded
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _at_entry(entry: BibEntry, line: int) -> dict[str, object]:
    """Where a finding about a .bib entry is reported: its file, ``line``, and its key."""
    return {"path": entry.path, "line": line, "key": entry.key}


def _entry_warning(
    problems: Problems, entry: BibEntry, code: str, message: str, line: int, hint: str | None = None
) -> None:
    """A warning about one .bib entry, at ``line`` of its file."""
    problems.warning(code, message, hint=hint, **_at_entry(entry, line))


def _check_type(entry: BibEntry, bib: Bibliography, problems: Problems) -> None:
    """The entry type is known, and the entry has the fields its type requires."""
    reqs = datamodel.requirements(entry.type)
    if reqs is None:
        # A style may extend the data model (biblatex-archaeologie's @review),
        # and BibTeX formats an unknown type as @misc: a warning, not an error.
        _entry_warning(
            problems,
            entry,
            "unknown-type",
            f"unknown entry type @{entry.type} for {entry.key!r}",
            entry.line,
            "use a biblatex type such as @article, @book, @online",
        )
        return
    for group in reqs:
        if not any(_has(entry, name, bib) for name in group):
            want = " or ".join(f"`{n}`" for n in group)
            # BibTeX and biber warn and still print the entry; so do we.
            _entry_warning(
                problems,
                entry,
                "missing-field",
                f"@{entry.type} {entry.key!r} lacks {want}",
                entry.line,
                "add the field, or choose the entry type that fits",
            )


def _check_dates_and_pages(entry: BibEntry, problems: Problems) -> None:
    """``year``, ``date`` and ``pages`` read the way biber and citeproc parse them."""
    fields = entry.fields
    if "year" in fields and not _YEAR.match(_plain_year(fields["year"])):
        _entry_warning(
            problems,
            entry,
            "bad-year",
            f"year {fields['year']!r} is not a four-digit year (or n.d. when unknown)",
            entry.line_of("year"),
            "write year = {2010}",
        )
    if "date" in fields and not _DATE.match(fields["date"].strip()):
        _entry_warning(
            problems,
            entry,
            "bad-year",
            f"date {fields['date']!r} is not an ISO date (YYYY, YYYY-MM or YYYY-MM-DD)",
            entry.line_of("date"),
        )
    pages = fields.get("pages")
    if pages is not None and not _PAGES_OK.match(pages.strip()):
        _entry_warning(
            problems,
            entry,
            "bad-pages",
            f"pages {pages!r} should read like 12--34",
            entry.line_of("pages"),
            "use two hyphens for a range: pages = {12--34}",
        )


def _check_doi(entry: BibEntry, by_doi: dict[str, BibEntry], problems: Problems) -> None:
    """A bare DOI (``10.…``, no resolver prefix), not shared with an earlier entry."""
    doi = entry.fields.get("doi")
    if doi is None or not doi.strip():  # an empty field says nothing (Google Scholar exports write DOI="")
        return
    line = entry.line_of("doi")
    clean = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:)", "", doi.strip(), flags=re.I)
    if not _DOI.match(clean):
        message, hint = f"DOI {doi!r} does not start with `10.`", "write the bare DOI, e.g. 10.1017/CBO9780511781353"
        _entry_warning(problems, entry, "bad-doi", message, line, hint)
    elif clean != doi.strip():
        message = f"DOI {doi!r} should be given without a resolver prefix"
        _entry_warning(problems, entry, "bad-doi", message, line, f"write doi = {{{clean}}}")
    dup = by_doi.setdefault(clean.lower(), entry)
    if dup is not entry:
        message = f"{entry.key!r} has the same DOI as {dup.key!r} (line {dup.line})"
        _entry_warning(problems, entry, "duplicate-work", message, line, "merge the two entries")


def _check_isbn_and_url(entry: BibEntry, problems: Problems) -> None:
    """Every ISBN in ``isbn`` has a valid check digit; ``url`` is an absolute http(s) address."""
    isbn = entry.fields.get("isbn")
    if isbn is not None and not all(isbn_valid(x) for x in re.split(r"[;,]\s*|\s+and\s+", isbn) if x.strip()):
        message = f"ISBN {isbn!r} has a wrong check digit or length"
        hint = "copy the ISBN again from the book's record"
        _entry_warning(problems, entry, "bad-isbn", message, entry.line_of("isbn"), hint)
    url = entry.fields.get("url")
    if url is not None:
        parsed = urlparse(url.strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc or " " in url.strip():
            message = f"URL {url!r} is not an absolute http(s) address"
            hint = "write the full address, starting with https://"
            _entry_warning(problems, entry, "bad-url", message, entry.line_of("url"), hint)


def _check_same_work(entry: BibEntry, by_work: dict[tuple[str, str, str], BibEntry], problems: Problems) -> None:
    """Two keys for one work (same normalised title, year and first author's family name)."""
    title = entry.fields.get("title")
    if not (title and entry.year and entry.family_names):
        return
    sig = (_normalise_title(title), entry.year, entry.family_names[0].lower())
    dup = by_work.setdefault(sig, entry)
    if dup is not entry:
        message = (
            f"{entry.key!r} looks like the same work as {dup.key!r} (line {dup.line}): "
            "same title, year and first author"
        )
        _entry_warning(problems, entry, "duplicate-work", message, entry.line, "keep one key and cite it everywhere")


def check_entries(bib: Bibliography, problems: Problems) -> None:
    """Each .bib entry on its own: type and required fields, field syntax, and duplicates.

    Every finding here is a warning: BibTeX, biber and citeproc all still print
    such an entry, so the build goes on; the author gets told where to look.
    """
    by_doi: dict[str, BibEntry] = {}
    by_work: dict[tuple[str, str, str], BibEntry] = {}
    for entry in bib.entries.values():
        _check_type(entry, bib, problems)
        _check_dates_and_pages(entry, problems)
        _check_doi(entry, by_doi, problems)
        _check_isbn_and_url(entry, problems)
        _check_same_work(entry, by_work, problems)


# --- citations and notes against the .bib ------------------------------------


def _suggest(key: str, keys: Iterable[str]) -> str | None:
    match = difflib.get_close_matches(key, list(keys), n=1, cutoff=0.6)
    return f"did you mean {match[0]!r}?" if match else None


def _page_range(entry: BibEntry) -> tuple[int, int] | None:
    pages = entry.fields.get("pages", "")
    m = re.fullmatch(r"\s*(\d+)\s*(?:-+|–)\s*(\d+)\s*", pages)
    if m:
        return int(m.group(1)), int(m.group(2))
    return None


def _locator_pages(locator: str) -> tuple[int, int] | None:
    m = re.match(r"^(?:p|pp)\.\s*(\d+)(?:\s*[-–]+\s*(\d+))?", locator.strip())
    if m is None:
        return None
    return int(m.group(1)), int(m.group(2) or m.group(1))


def _check_range(entry: BibEntry, pages: tuple[int, int] | None, problems: Problems, **kw: object) -> None:
    span = _page_range(entry)
    if span is None or pages is None:
        return
    if pages[0] < span[0] or pages[1] > span[1]:
        problems.error(
            "locator-out-of-range",
            f"page {pages[0]}{'' if pages[0] == pages[1] else f'-{pages[1]}'} lies outside "
            f"{entry.key!r}'s pages {span[0]}--{span[1]}",
            hint="check the locator against the entry's `pages` field",
            **kw,
        )


def check_citations(data: CheckInput, problems: Problems) -> None:
    """Every citation against the bibliography: the key exists, the locator fits, the form is sound.

    An unknown key is an error (pandoc would print it as "???"), except in
    ``nocite`` where it is a warning; a quotation cited without a locator and a
    key swallowed by the previous citation's suffix are warnings.
    """
    keys = data.bib.entries
    for cite in data.citations:
        if cite.crossref or (cite.nocite and cite.key == "*"):
            continue
        kw = {"path": cite.path, "line": cite.line, "column": cite.column, "key": cite.key}
        entry = keys.get(cite.key)
        if entry is None:
            if cite.nocite:
                # pandoc says nothing about an unknown `nocite` key; it is still worth a look.
                problems.warning(
                    "undefined-nocite",
                    f"`nocite` lists {cite.key!r}, which is not in any .bib file",
                    hint=_suggest(cite.key, keys) or "add an entry for it, or remove it from `nocite`",
                    **kw,
                )
                continue
            problems.error(
                "undefined-citation",
                f"citation key {cite.key!r} is not in any .bib file",
                hint=_suggest(cite.key, keys) or "add an entry for it to the bibliography",
                **kw,
            )
            continue
        _check_range(entry, cite.page_range(), problems, **kw)
        if cite.after_quote:
            problems.warning(
                "quote-without-locator",
                f"a quoted passage is cited to {cite.key!r} without a locator",
                hint=f"add where the quotation stands, e.g. [@{cite.key}, p. 12] or [@{cite.key}, sec. 2]",
                **kw,
            )
        if cite.nested and not cite.nocite:
            problems.warning(
                "nested-citation",
                f"{cite.key!r} stands inside the suffix of the citation before it (as in `[@a, @b]`), "
                "so pandoc prints it as an author-in-text citation there",
                hint="separate the keys in one bracket with semicolons: [@a; @b; @c]",
                **kw,
            )


def _check_every_entry_has_a_note(data: CheckInput, notes: dict[str, Note], problems: Problems) -> None:
    """Each .bib entry has its note (the annotated bibliography lists every entry)."""
    for key, bib_entry in data.bib.entries.items():
        if key not in notes:
            hint = (
                f"run `invoke new-note {key}` to scaffold bib/notes/{key}.md"
                if is_safe_key(key)
                else "this key is not a safe file name, so it cannot have a note: rename it "
                "(letters, digits and _ : . + - only)"
            )
            at = _at_entry(bib_entry, bib_entry.line)
            problems.error("missing-note", f"entry {key!r} has no note", hint=hint, **at)


def _in_note(note: Note, key: str, line: int) -> dict[str, object]:
    """Where a finding about a note is reported: its file, ``line``, and the entry key."""
    return {"path": note.path, "line": line, "key": key}


def _check_annotation_length(data: CheckInput, key: str, note: Note, problems: Problems) -> None:
    """The annotation's word count lies within the project's bounds (too short is an error)."""
    words = note.annotation_words
    at = _in_note(note, key, note.body_line)
    if words < data.annotation_min_words:
        what = "empty" if words == 0 else f"too short ({words} words; at least {data.annotation_min_words})"
        message = f"the annotation of {key!r} is {what}"
        problems.error("empty-annotation", message, hint="write the annotation below the front matter", **at)
    elif words > data.annotation_max_words:
        message = f"the annotation of {key!r} has {words} words (at most {data.annotation_max_words})"
        problems.warning("long-annotation", message, hint="shorten it", **at)


def _check_note_against_entry(key: str, note: Note, entry: BibEntry, problems: Problems) -> None:
    """The note's locators fall inside the entry's pages; its year and authors agree with the entry."""
    for claim in note.claims:
        _check_range(entry, _locator_pages(claim.locator), problems, **_in_note(note, key, claim.line))
    for quote in note.quotations:
        if quote.locator:
            _check_range(entry, _locator_pages(quote.locator), problems, **_in_note(note, key, quote.line))
    if note.year is not None and entry.year is not None and note.year.strip() != entry.year:
        message = f"note says year {note.year}, the .bib entry says {entry.year}"
        at = _in_note(note, key, note.lines.get("year", 1))
        problems.warning("note-entry-mismatch", message, hint="correct one of the two", **at)
    if note.author:
        stated = [a.split(",")[0].strip().strip("{}").lower() for a in note.author.split(";") if a.strip()]
        actual = [n.strip("{}").lower() for n in entry.family_names]
        if stated and actual and stated != actual:
            message = f"note names author(s) {note.author!r}, the .bib entry has {'; '.join(entry.family_names)!r}"
            at = _in_note(note, key, note.lines.get("author", 1))
            problems.warning("note-entry-mismatch", message, hint="make the spellings agree", **at)


def check_notes(data: CheckInput, problems: Problems) -> None:
    """Notes against the bibliography: one note per entry, one entry per note, and agreement.

    Does nothing when the project has no notes directory (``data.notes`` is None):
    then there is no annotated bibliography to keep in step.
    """
    if data.notes is None:
        return
    notes = data.notes
    _check_every_entry_has_a_note(data, notes, problems)
    for key, note in notes.items():
        check_note(data, key, note, problems)


def check_note(data: CheckInput, key: str, note: Note, problems: Problems) -> None:
    """One note against its entry: that it has one, the annotation's length, locators, year and authors.

    What :func:`check_notes` runs for each note (the preview checks a single saved note with it).
    """
    entry = data.bib.get(key)
    if entry is None:
        hint = _suggest(key, data.bib.entries) or "add the entry, or delete the note"
        message = f"note {key!r} has no entry in the bibliography"
        problems.error("orphan-note", message, hint=hint, **_in_note(note, key, 1))
        return
    _check_annotation_length(data, key, note, problems)
    _check_note_against_entry(key, note, entry, problems)


def check_unused(data: CheckInput, problems: Problems) -> None:
    """Entries that nothing uses: neither cited in the manuscript nor listed in the annotated bibliography."""
    cited = {c.key for c in data.citations}
    if any(c.nocite and c.key == "*" for c in data.citations):
        return  # `nocite: "@*"` puts every entry in the bibliography
    for key, entry in data.bib.entries.items():
        if key not in cited and key not in data.listed:
            message = f"entry {key!r} is never cited nor listed in the annotated bibliography"
            hint = "cite it, write its note, or remove it"
            problems.warning("unused-entry", message, hint=hint, **_at_entry(entry, entry.line))


def run_all(data: CheckInput, problems: Problems) -> None:
    """All the rules of this module, in a fixed order (the report sorts the findings anyway)."""
    check_entries(data.bib, problems)
    check_reference_cycles(data.bib, problems)
    check_citations(data, problems)
    check_notes(data, problems)
    if data.citations or data.notes is not None:
        check_unused(data, problems)  # with no manuscript and no notes, nothing can use an entry
