"""Required fields per entry type, from biblatex's data model and classic BibTeX.

biblatex: ``\\DeclareDatamodelConstraints`` in ``blx-dm.def`` (biblatex 3.x);
every type there also requires ``date`` xor ``year``. BibTeX: the standard
styles (``plain.bst``). A tuple inside a requirement means "any one of".
This module is data and a lookup only; the rules that report a missing field
are in ``checks.rules`` (it must not report anything itself).
"""

from __future__ import annotations

Requirement = tuple[str, ...]

_DATE: Requirement = ("date", "year")

BIBLATEX: dict[str, list[Requirement]] = {
    "article": [("author",), ("title",), ("journaltitle", "journal"), _DATE],
    # An edited volume filed as @book: plain.bst accepts `editor` for `author`, and
    # citeproc prints the editors in the author's place. biber's validator (which
    # follows blx-dm.def) wants `author`; this is a documented, deliberate difference.
    "book": [("author", "editor"), ("title",), _DATE],
    "mvbook": [("author", "editor"), ("title",), _DATE],  # as @book
    "inbook": [("author",), ("title",), ("booktitle",), _DATE],
    "bookinbook": [("author",), ("title",), ("booktitle",), _DATE],
    "suppbook": [("author",), ("title",), ("booktitle",), _DATE],
    "booklet": [("author", "editor"), ("title",), _DATE],
    "collection": [("editor",), ("title",), _DATE],
    "mvcollection": [("editor",), ("title",), _DATE],
    "reference": [("editor",), ("title",), _DATE],
    "incollection": [("author",), ("editor",), ("title",), ("booktitle",), _DATE],
    "inreference": [("author",), ("editor",), ("title",), ("booktitle",), _DATE],
    "dataset": [("title",)],
    "manual": [("title",), _DATE],
    "misc": [("title",), _DATE],
    "software": [("title",)],
    # Web pages often carry no date; the access date (urldate) stands in for it,
    # so an unknown publication date never has to be invented.
    "online": [("title",), ("url", "doi", "eprint"), ("date", "year", "urldate")],
    "patent": [("author",), ("title",), ("number",), _DATE],
    "periodical": [("editor",), ("title",), _DATE],
    "proceedings": [("title",), _DATE],
    "inproceedings": [("author",), ("title",), ("booktitle",), _DATE],
    "report": [("author",), ("title",), ("type",), ("institution",), _DATE],
    "thesis": [("author",), ("title",), ("type",), ("institution", "school"), _DATE],
    "unpublished": [("author",), ("title",), _DATE],
    "set": [("entryset",)],
    "xdata": [],
}

# Classic BibTeX types that biblatex treats as aliases; requirements from plain.bst.
BIBTEX: dict[str, list[Requirement]] = {
    "conference": [("author",), ("title",), ("booktitle",), ("year", "date")],
    "mastersthesis": [("author",), ("title",), ("school", "institution"), ("year", "date")],
    "phdthesis": [("author",), ("title",), ("school", "institution"), ("year", "date")],
    "techreport": [("author",), ("title",), ("institution",), ("year", "date")],
    "electronic": [("title",), ("url",)],
    "www": [("title",), ("url",)],
}

KNOWN_TYPES = frozenset(BIBLATEX) | frozenset(BIBTEX)


def requirements(entry_type: str) -> list[Requirement] | None:
    """The required-field groups of a type, or None for an unknown type."""
    t = entry_type.lower()
    if t in BIBLATEX:
        return BIBLATEX[t]
    return BIBTEX.get(t)
