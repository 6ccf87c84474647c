"""A fast structural scan of BibTeX text: entry and field locations, syntax faults.

pybtex keeps no line numbers and, in lenient mode, lets one unbalanced brace
swallow the rest of a file. This scanner finds each entry's span and fields with
their lines, reports syntax faults where they happen, and resynchronises at the
next ``@type{`` that starts a line, so one broken entry does not hide the others.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass, field

# BibTeX allows white space, line breaks included, between the type and the brace
# (btxdoc.bib writes `@FAKE-ENTRY` and `{key,` on two lines, and `@` then `MaNuAl  (scribe,`).
_HEADER = re.compile(r"@\s*([A-Za-z][\w-]*)\s*([{(])")
_LINE_ENTRY = re.compile(r"(?m)^[ \t]*@[ \t]*[A-Za-z][\w-]*\s*[{(]")
_NAME = re.compile(r"[ \t\r\n]*([^\s\"#%'(),={}]+)[ \t\r\n]*")
_SPACE = re.compile(r"[ \t\r\n]*")
_BRACE_OR_QUOTE = re.compile(r'[{}"\\]')
_BRACES = re.compile(r"[{}]")
_NUMBER = re.compile(r"[0-9]+")
_KEY = re.compile(r"[ \t\r\n]*([^\s,{}()\"#%'=]*)[ \t\r\n]*")


@dataclass
class RawField:
    """A field as written: its lower-cased name, its line and the macros its value uses."""

    name: str
    line: int
    macros: list[tuple[str, int]]  # bare identifiers used in the value, with lines


@dataclass
class RawEntry:
    """An entry as written: type, key, line, span in the text and fields."""

    type: str
    key: str
    line: int
    start: int
    end: int
    fields: list[RawField] = field(default_factory=list)


@dataclass
class SyntaxFault:
    """A syntax error with its location and a hint."""

    line: int
    column: int
    message: str
    hint: str


@dataclass
class ScanResult:
    """Everything one scan found: entries, @string definitions, faults, spans safe to parse."""

    entries: list[RawEntry]
    strings: dict[str, int]  # macro name (lower) -> line
    faults: list[SyntaxFault]
    good_spans: list[tuple[int, int]]  # spans of text pybtex may parse safely
    string_macros: list[tuple[str, int]] = field(default_factory=list)  # macros used inside @string values


class _Fault(Exception):
    def __init__(self, pos: int, message: str, hint: str) -> None:
        self.pos, self.message, self.hint = pos, message, hint


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line(self, pos: int) -> int:
        """The 1-based line of offset ``pos``."""
        return bisect.bisect_right(self.starts, pos)

    def column(self, pos: int) -> int:
        """The 1-based column of offset ``pos``."""
        return pos - self.starts[self.line(pos) - 1] + 1

    def next_entry_line_start(self, pos: int) -> int:
        """Offset of the next line that starts with ``@type{`` (where a broken entry ends)."""
        m = _LINE_ENTRY.search(self.text, pos)
        return m.start() if m else len(self.text)

    def balanced(self, pos: int, limit: int) -> int:
        """``pos`` is just after ``{``; return the index after the matching ``}``."""
        depth = 1
        for m in _BRACES.finditer(self.text, pos, limit):
            depth += 1 if m.group() == "{" else -1
            if depth == 0:
                return m.end()
        raise _Fault(
            pos - 1,
            "unbalanced braces: this `{` is never closed",
            "add the missing `}` (an entry must close before the next @entry)",
        )

    def quoted(self, pos: int, limit: int) -> int:
        """``pos`` is just after ``"``; return the index after the closing quote."""
        depth = 0
        i = pos
        while True:
            m = _BRACE_OR_QUOTE.search(self.text, i, limit)
            if m is None:
                raise _Fault(pos - 1, 'unterminated "quoted" value', 'close the value with `"`')
            ch = m.group()
            i = m.end()
            # BibTeX has no backslash escapes: `\"` ends a quoted value too.
            if ch == "\\":
                continue
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth < 0:
                    raise _Fault(
                        m.start(), "unbalanced braces: unexpected `}` inside a quoted value", "remove the extra `}`"
                    )
            elif depth == 0:
                return i

    def value(self, pos: int, limit: int, macros: list[tuple[str, int]]) -> int:
        """Parse ``part (# part)*``; return the index after the value."""
        while True:
            pos = _SPACE.match(self.text, pos).end()  # type: ignore[union-attr]
            if pos >= limit:
                raise _Fault(pos, "value missing after `=`", "give the field a value")
            ch = self.text[pos]
            if ch == "{":
                pos = self.balanced(pos + 1, limit)
            elif ch == '"':
                pos = self.quoted(pos + 1, limit)
            else:
                m = _NUMBER.match(self.text, pos) or _NAME.match(self.text, pos)
                if m is None or not m.group().strip():
                    raise _Fault(
                        pos,
                        f"unexpected {ch!r} where a field value should start",
                        "wrap the value in braces: field = {value}",
                    )
                name = m.group().strip()
                if not name.isdigit():
                    macros.append((name, self.line(pos)))
                pos = m.end()
            pos = _SPACE.match(self.text, pos).end()  # type: ignore[union-attr]
            if pos < limit and self.text[pos] == "#":
                pos += 1
                continue
            return pos

    def entry(self, kind: str, body: int, close: str, limit: int, result: ScanResult, start: int) -> int:
        """Scan one entry's body from ``body``; record it in ``result``; return the offset after it."""
        text = self.text
        if kind in ("comment",):
            return self.balanced(body, limit) if close == "}" else body
        if kind == "preamble":
            macros: list[tuple[str, int]] = []
            pos = self.value(body, limit, macros)
            return self._close(pos, close, limit)
        if kind == "string":
            m = _NAME.match(text, body)
            if m is None:
                raise _Fault(body, "bad @string: expected `name = value`", "write @string{name = {value}}")
            name = m.group(1)
            pos = _SPACE.match(text, m.end()).end()  # type: ignore[union-attr]
            if pos >= limit or text[pos] != "=":
                raise _Fault(pos, "bad @string: expected `=`", "write @string{name = {value}}")
            macros = []
            pos = self.value(pos + 1, limit, macros)
            result.string_macros.extend(macros)
            result.strings[name.lower()] = self.line(start)
            return self._close(pos, close, limit)
        m = _KEY.match(text, body)
        key = m.group(1) if m else ""
        pos = m.end() if m else body
        if not key:
            raise _Fault(body, "entry has no citation key", "write @type{key, field = {...}}")
        entry = RawEntry(kind, key, self.line(start), start, start)
        if pos < limit and text[pos] != ",":
            if text[pos] == close or (close == ")" and text[pos] == ")"):
                entry.end = pos + 1
                result.entries.append(entry)
                return pos + 1
            raise _Fault(pos, f"missing comma after the key {key!r}", "write @type{key, field = {...}}")
        pos += 1
        last_pos = pos
        while True:
            pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
            if pos >= limit:
                if entry.fields:
                    last = entry.fields[-1]
                    raise _Fault(
                        last_pos,
                        f"entry {key!r} (line {entry.line}) is not closed before the next "
                        f"entry; the braces of field {last.name!r} may be unbalanced",
                        "balance the braces in this field, or close the entry with `}`",
                    )
                raise _Fault(
                    start, f"entry {key!r} is not terminated", f"close the entry with `{'}' if close == '}' else ')'}`"
                )
            if text[pos] == close:
                entry.end = pos + 1
                result.entries.append(entry)
                return pos + 1
            fm = _NAME.match(text, pos)
            if fm is None:
                raise _Fault(
                    pos,
                    f"unexpected {text[pos]!r} where a field name should start",
                    "check for a missing comma or a stray character",
                )
            fname = fm.group(1)
            last_pos = pos
            fline = self.line(pos)
            pos = fm.end()
            if pos >= limit or text[pos] != "=":
                raise _Fault(
                    pos,
                    f"expected `=` after field name {fname!r}",
                    "check for a missing comma at the end of the previous field",
                )
            macros = []
            pos = self.value(pos + 1, limit, macros)
            entry.fields.append(RawField(fname.lower(), fline, macros))
            if pos < limit and text[pos] == ",":
                pos += 1
            elif pos < limit and text[pos] != close:
                raise _Fault(pos, f"missing comma after the field {fname!r}", "end every field with a comma")

    def _close(self, pos: int, close: str, limit: int) -> int:
        pos = _SPACE.match(self.text, pos).end()  # type: ignore[union-attr]
        if pos < limit and self.text[pos] == close:
            return pos + 1
        raise _Fault(pos, f"expected `{close}`", f"close the entry with `{close}`")


def scan(text: str, on_span: Callable[[int, int, str | None], None] | None = None) -> ScanResult:
    """Scan BibTeX text; a fault is reported and scanning resumes at the next entry line.

    ``on_span(start, end, key)`` is called for each clean span as it is found (``key``:
    the entry's, None for @string, @preamble, @comment), so that parsing can start early.
    """
    sc = _Scanner(text)
    result = ScanResult([], {}, [], [])
    pos = 0
    n = len(text)
    while pos < n:
        at = text.find("@", pos)
        if at < 0:
            break
        m = _HEADER.match(text, at)
        if m is None:
            # Outside entries everything is a comment in BibTeX, except a stray "@word".
            if re.match(r"@[ \t]*[A-Za-z]", text[at : at + 40]):
                result.faults.append(
                    SyntaxFault(
                        sc.line(at),
                        sc.column(at),
                        "bad entry header: expected `@type{key,`",
                        "write the header as @type{key,",
                    )
                )
            pos = at + 1
            continue
        kind = m.group(1).lower()
        close = "}" if m.group(2) == "{" else ")"
        # An entry must end before the next line that starts a new entry.
        limit = sc.next_entry_line_start(m.end())
        try:
            end = sc.entry(kind, m.end(), close, limit, result, at)
            result.good_spans.append((at, end))
            if on_span is not None:
                last = result.entries[-1] if result.entries else None
                on_span(at, end, last.key if last is not None and last.start == at else None)
            pos = end
        except _Fault as fault:
            result.faults.append(SyntaxFault(sc.line(fault.pos), sc.column(fault.pos), fault.message, fault.hint))
            pos = limit
    return result
