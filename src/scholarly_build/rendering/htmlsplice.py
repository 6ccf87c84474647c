"""Finding one element of an HTML page by its id, and replacing it with another rendering of it.

The preview and the build render a single annotated entry and put it in place of
the entry in a page (the preview in memory, the build in its work folder: see
``entries.py``). Elements are found with a real HTML parser (``html.parser``), so
nested elements with the same tag, comments and attribute values that look like
markup are handled. This module only works on strings: it must not read or write
files, and it never builds markup from data (the fragments it moves are pandoc's
output, already escaped).
"""

from __future__ import annotations

from html.parser import HTMLParser

# Elements that never have an end tag (HTML's void elements).
VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())


class _Finder(HTMLParser):
    """Records where the element with a given id starts and where its end tag ends (character offsets)."""

    def __init__(self, page: str, element_id: str) -> None:
        super().__init__(convert_charrefs=False)  # offsets must follow the text as written
        self.element_id = element_id
        self.line_starts = [0]
        at = page.find("\n")
        while at >= 0:  # str.find, not a loop over characters: a page with figures is a megabyte
            self.line_starts.append(at + 1)
            at = page.find("\n", at + 1)
        self.start: int | None = None
        self.end: int | None = None
        self.tag = ""
        self.depth = 0  # open elements named ``tag`` inside the found one, itself included
        self.found = 0  # elements carrying the id (more than one: the page is ambiguous)
        self.end_tag_at: int | None = None

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """An element opens: the one we look for, or one with the same tag inside it."""
        if any(name == "id" and value == self.element_id for name, value in attrs):
            self.found += 1
            if self.start is None:
                self.start, self.tag, self.depth = self._offset(), tag, 1
                if tag in VOID:
                    self.end = self.start + len(self.get_starttag_text() or "")
            return
        if self.start is not None and self.end is None and tag == self.tag and tag not in VOID:
            self.depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """``<x/>``: an element without content, never changes the depth."""
        if any(name == "id" and value == self.element_id for name, value in attrs):
            self.found += 1
            if self.start is None:
                self.start = self._offset()
                self.end = self.start + len(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        """An element closes; the found one when the depth falls to zero."""
        if self.start is None or self.end is not None or self.end_tag_at is not None or tag != self.tag:
            return
        self.depth -= 1
        if self.depth == 0:
            self.end_tag_at = self._offset()  # where ``</tag`` starts; its ``>`` is found after parsing


def element_span(page: str, element_id: str) -> tuple[int, int] | None:
    """The [start, end) offsets of the element whose id is ``element_id`` in ``page``.

    None when there is no such element, when more than one element has that id, or when
    the element is not closed (a page the parser cannot vouch for is never spliced).
    """
    finder = _Finder(page, element_id)
    finder.feed(page)
    finder.close()
    end = finder.end
    if end is None and finder.end_tag_at is not None:
        close = page.find(">", finder.end_tag_at)
        end = close + 1 if close >= 0 else None
    if finder.found != 1 or finder.start is None or end is None:
        return None
    return finder.start, end


def element_html(page: str, element_id: str) -> str | None:
    """The markup of the element with id ``element_id`` (start tag to end tag), or None."""
    span = element_span(page, element_id)
    return page[span[0] : span[1]] if span else None


def splice(page: str, element_id: str, replacement: str) -> str | None:
    """``page`` with the element of id ``element_id`` replaced by ``replacement`` (an element with that id).

    None (do not splice) if the page lacks the element or has it twice, or if
    ``replacement`` is not exactly one such element.
    """
    span = element_span(page, element_id)
    if span is None or element_span(replacement, element_id) != (0, len(replacement)):
        return None
    return page[: span[0]] + replacement + page[span[1] :]
